package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// Flag values checked as they are parsed, so a bad one is a usage error
// (exit 2) before any inventory is read.

// intAtLeast is an int flag that must be min or more.
type intAtLeast struct {
	p   *int
	min int
}

func (v intAtLeast) String() string { return strconv.Itoa(*v.p) }
func (v intAtLeast) Type() string   { return "int" }
func (v intAtLeast) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not a whole number")
	}
	if n < v.min {
		return fmt.Errorf("must be at least %d", v.min)
	}
	*v.p = n
	return nil
}

// notNegative is a duration flag that must not be negative.
type notNegative struct{ p *time.Duration }

func (v notNegative) String() string { return v.p.String() }
func (v notNegative) Type() string   { return "duration" }
func (v notNegative) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration such as 90s or 5m")
	}
	if d < 0 {
		return errors.New("must not be negative")
	}
	*v.p = d
	return nil
}

func intAtLeastOne(f *pflag.FlagSet, p *int, name string, value int, usage string) {
	*p = value
	f.Var(intAtLeast{p, 1}, name, usage)
}

func intNotNegative(f *pflag.FlagSet, p *int, name string, value int, usage string) {
	*p = value
	f.Var(intAtLeast{p, 0}, name, usage)
}

func durationNotNegative(f *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	f.Var(notNegative{p}, name, usage)
}

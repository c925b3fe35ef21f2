package main

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"everywhere/internal/host"
)

// every holds every byte, so that each escape is exercised, and invalid
// UTF-8.
func every() string {
	var b strings.Builder
	for i := range 256 {
		b.WriteByte(byte(i))
	}
	return b.String() + "\xff\xfe é ✓ \u2028 <&> 🙂"
}

// Each line decodes as encoding/json's encoding of the same value does,
// and a plain measure is byte for byte what encoding/json wrote before.
func TestMeasureLine(t *testing.T) {
	for _, m := range []host.Measure{
		{},
		{Test: host.TestPing, OK: true, Value: 0.25, Unit: "ms", Detail: "3/3 replies, 0% loss"},
		{Test: host.TestThroughput, Value: 12345.678901234567, Unit: "Mbit/s", Emulated: true},
		{Test: host.TestLong, Value: 1e21, Unit: "ms", Detail: every()},
		{Test: every(), Value: -1e-7, Unit: every()},
		{Test: host.TestShort, Value: math.MaxFloat64},
		{Test: host.TestShort, Value: math.SmallestNonzeroFloat64},
	} {
		line := measureLine(m)
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var got, wanted host.Measure
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("measureLine(%+v) = %q: %v", m, line, err)
		}
		json.Unmarshal(want, &wanted)
		if !reflect.DeepEqual(got, wanted) {
			t.Errorf("measureLine(%+v) = %q, decodes to %+v, want %+v", m, line, got, wanted)
		}
		if m.Test == host.TestPing && string(line) != string(want)+"\n" {
			t.Errorf("measureLine(%+v) = %q, want %q", m, line, want)
		}
	}
}

// What JSON has no number for decodes as 0 rather than breaking the line.
func TestMeasureLineNotANumber(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		line := measureLine(host.Measure{Test: host.TestPing, Value: v})
		got := host.Measure{Value: 7}
		if err := json.Unmarshal(line, &got); err != nil || got.Value != 7 || got.Test != host.TestPing {
			t.Errorf("measureLine(value %g) = %q: %+v, %v", v, line, got, err)
		}
	}
}

func TestReadyLine(t *testing.T) {
	line := readyLine("[::]:7171", "s390x", true)
	if want := `{"listening":"[::]:7171","arch":"s390x","emulated":true}` + "\n"; string(line) != want {
		t.Errorf("readyLine = %q, want %q", line, want)
	}
	var got struct {
		Listening, Arch string
	}
	if err := json.Unmarshal(readyLine(every(), "arm", false), &got); err != nil || got.Listening != string([]rune(every())) {
		t.Errorf("readyLine(every byte) decodes to %q, %v", got.Listening, err)
	}
}

// Command tool is the only program in the Docker tests' image: it does what
// its arguments say, so tests need no registry and no distribution image.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	args := os.Args[1:]
	for len(args) > 0 {
		switch args[0] {
		case "arch":
			fmt.Println(runtime.GOARCH)
		case "echo":
			fmt.Println(args[1])
			args = args[1:]
		case "stderr":
			fmt.Fprintln(os.Stderr, args[1])
			args = args[1:]
		case "big":
			n, _ := strconv.Atoi(args[1])
			fmt.Print(strings.Repeat("x", n))
			args = args[1:]
		case "sleep":
			d, _ := time.ParseDuration(args[1])
			time.Sleep(d)
			args = args[1:]
		case "exit":
			n, _ := strconv.Atoi(args[1])
			os.Exit(n)
		}
		args = args[1:]
	}
}

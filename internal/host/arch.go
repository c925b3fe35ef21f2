package host

import (
	"fmt"
	"sort"
	"strings"
)

// Arch is a CPU architecture in everywhere's canonical spelling: armhf,
// arm64, i686, amd64, ppc64el or s390x.
type Arch string

// The architectures everywhere knows.
const (
	ArmHF   Arch = "armhf"
	Arm64   Arch = "arm64"
	I686    Arch = "i686"
	AMD64   Arch = "amd64"
	PPC64EL Arch = "ppc64el"
	S390X   Arch = "s390x"
)

// archNames maps every accepted spelling to its Arch: the Debian name, and
// the kernel's `uname -m` name (as in canonical/lxd shared/osarch).
var archNames = map[string]Arch{
	"armhf": ArmHF, "armv7l": ArmHF, "armv7": ArmHF, "armv8l": ArmHF,
	"arm64": Arm64, "aarch64": Arm64,
	"i686": I686, "i386": I686, "i586": I686,
	"amd64": AMD64, "x86_64": AMD64,
	"ppc64el": PPC64EL, "ppc64le": PPC64EL,
	"s390x": S390X,
}

// debianNames are the names dpkg --print-architecture prints.
var debianNames = map[Arch]string{
	ArmHF: "armhf", Arm64: "arm64", I686: "i386", AMD64: "amd64", PPC64EL: "ppc64el", S390X: "s390x",
}

// kernelNames are the names uname -m prints.
var kernelNames = map[Arch]string{
	ArmHF: "armv7l", Arm64: "aarch64", I686: "i686", AMD64: "x86_64", PPC64EL: "ppc64le", S390X: "s390x",
}

// ParseArch accepts any known spelling of an architecture.
func ParseArch(s string) (Arch, error) {
	if a, ok := archNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return a, nil
	}
	return "", fmt.Errorf("unknown arch %q (known: %s)", s, strings.Join(KnownArchNames(), ", "))
}

// KnownArchNames lists every accepted spelling, sorted.
func KnownArchNames() []string {
	names := make([]string, 0, len(archNames))
	for n := range archNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// AllArchs lists the canonical architectures in the order of the seed demo.
func AllArchs() []Arch { return []Arch{ArmHF, Arm64, I686, AMD64, PPC64EL, S390X} }

// Debian is the architecture's dpkg name (i686 is i386 there).
func (a Arch) Debian() string { return debianNames[a] }

// Kernel is the architecture's uname -m name.
func (a Arch) Kernel() string { return kernelNames[a] }

// goNames are Go's GOARCH names (armhf is arm with GOARM=7).
var goNames = map[Arch]string{
	ArmHF: "arm", Arm64: "arm64", I686: "386", AMD64: "amd64", PPC64EL: "ppc64le", S390X: "s390x",
}

// GOARCH is the architecture's name in Go, and in OCI image platforms.
func (a Arch) GOARCH() string { return goNames[a] }

// ArchesIn returns every architecture named by a whole word of text, in
// order of appearance, with the word that named it: how `uname -a` or
// `dpkg --print-architecture` output is checked against a declared arch.
func ArchesIn(text string) (found []Arch, words []string) {
	for _, w := range strings.Fields(text) {
		if a, ok := archNames[w]; ok {
			found = append(found, a)
			words = append(words, w)
		}
	}
	return found, words
}

package result

import (
	"slices"
	"sort"
)

// Facts are a host's environment as a run found it: what `everywhere diff`
// says changed underneath the steps. Each is as the host printed it
// (untrusted text), empty where the host has no such thing.
type Facts struct {
	Kernel        string `json:"kernel,omitempty"`         // uname -r
	Machine       string `json:"machine,omitempty"`        // uname -m, as the host's programs see it
	KernelArch    string `json:"kernel_arch,omitempty"`    // the kernel's own architecture, which qemu-user does not fake
	Distro        string `json:"distro,omitempty"`         // os-release ID: debian
	DistroVersion string `json:"distro_version,omitempty"` // os-release VERSION_ID: 12
	Codename      string `json:"codename,omitempty"`       // os-release VERSION_CODENAME: bookworm
	Virt          string `json:"virt,omitempty"`           // systemd-detect-virt: kvm, qemu, docker, none
	// Emulated says the host's programs run under an emulator (qemu-user,
	// or a whole machine qemu emulates without KVM); Emulator says which.
	Emulated bool   `json:"emulated"`
	Emulator string `json:"emulator,omitempty"`
	// Packages are the versions of the installed packages that matter to
	// a container host (docker.io, containerd, runc, lxd, incus, podman…).
	Packages map[string]string `json:"packages,omitempty"`
	// Engines are the versions the container engines' daemons report.
	Engines map[string]string `json:"engines,omitempty"`
	// Images are the engine's images, name:tag → id.
	Images map[string]string `json:"images,omitempty"`
	// Error says why the facts are missing or partial.
	Error string `json:"error,omitempty"`
}

// Fact is one fact, named as reports show it.
type Fact struct {
	Name  string `json:"name"`  // kernel, distro, docker.io, engine docker, image debian:bookworm
	Value string `json:"value"` // as the host printed it
}

// List is the facts in the order reports show them: the system, then
// packages, engines and images each sorted by name. Empty facts are left out.
func (f *Facts) List() []Fact {
	if f == nil {
		return nil
	}
	var list []Fact
	add := func(name, value string) {
		if value != "" {
			list = append(list, Fact{name, value})
		}
	}
	add("kernel", f.Kernel)
	distro := f.Distro
	if f.DistroVersion != "" {
		distro += " " + f.DistroVersion
	}
	if f.Codename != "" {
		distro += " (" + f.Codename + ")"
	}
	add("distro", distro)
	add("machine", f.Machine)
	if f.Emulated {
		add("emulated", f.Emulator)
	}
	for _, m := range []struct {
		prefix string
		values map[string]string
	}{{"", f.Packages}, {"engine ", f.Engines}, {"image ", f.Images}} {
		names := make([]string, 0, len(m.values))
		for name := range m.values {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			add(m.prefix+name, m.values[name])
		}
	}
	return slices.Clip(list)
}

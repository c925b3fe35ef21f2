package vmlab

import (
	"archive/tar"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"everywhere/internal/docker"
	"everywhere/internal/host"
	"everywhere/internal/lab/labkit"
	"everywhere/internal/tarball"
)

// guestFiles are what every lab machine's tree carries besides its
// packages: a unit that, before the network and sshd start, gives the
// machine its identity from its seed disk (host key, address, name: see
// seed.go), sshd's settings, and DHCP on eth0 for the LXD instances made
// from the same tree (the machine's own static address sorts first).
var guestFiles = map[string]string{
	// The seed disk is found by blkid, not by waiting for udev's
	// by-label link: on a loaded machine udev took longer than systemd's
	// 90 s device timeout, and the machine came up nameless.
	"etc/systemd/system/everywhere-seed.service": `[Unit]
Description=everywhere lab: this machine's identity from its seed disk
DefaultDependencies=no
ConditionVirtualization=!container
After=systemd-remount-fs.service
Before=systemd-networkd.service ssh.service network-pre.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
TimeoutStartSec=infinity
ExecStart=/bin/sh -c 'until dev=$$(blkid -L ` + seedLabel + `); do sleep 1; done; mkdir -p /run/everywhere-seed && mount -o ro "$$dev" /run/everywhere-seed && exec /bin/sh /run/everywhere-seed/boot.sh'

[Install]
WantedBy=sysinit.target
`,
	"etc/systemd/network/90-everywhere-dhcp.network": "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n",
	"etc/ssh/sshd_config.d/everywhere.conf": `# Written by everywhere lab up: keys only, root allowed.
HostKey /etc/ssh/everywhere_host_ed25519_key
AuthorizedKeysFile /etc/ssh/everywhere_authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxStartups 200
MaxSessions 100
`,
}

// guestLinks are symlinks in the tree: the seed unit enabled.
var guestLinks = map[string]string{
	"etc/systemd/system/sysinit.target.wants/everywhere-seed.service": "/etc/systemd/system/everywhere-seed.service",
}

// vmImage is a machine's disk image and boot files, cached beside its
// tree, and the LXD image it imports.
type vmImage struct {
	disk, kernel, initrd string
	lxdTar               string
	recipe               string // identifies all of them
}

// imageRecipe identifies a machine image's tree and the lab's files in it.
func imageRecipe(c labkit.Config, a host.Arch) string {
	var b strings.Builder
	b.WriteString(c.Recipe(a, vmFlavour(c, a)))
	for _, name := range slices.Sorted(maps.Keys(guestFiles)) {
		b.WriteString(name + "\n" + guestFiles[name])
	}
	for _, name := range slices.Sorted(maps.Keys(guestLinks)) {
		b.WriteString(name + " -> " + guestLinks[name] + "\n")
	}
	return labkit.RecipeID(b.String())
}

// ensureVMImage builds (or finds cached) a's tree, then its disk image:
// the tree with the lab's files and a Docker store holding the lab's
// image (preloadDocker), as ext4 made by mke2fs -d (no loop mount), the
// kernel and initrd copied out of its /boot, and the LXD image made of the
// same tree, Docker store included. The Docker and LXD images carry the
// lab's proxy address, so a disk is cached per proxy too.
func ensureVMImage(ctx context.Context, c labkit.Config, a host.Arch, mirror string, p *labkit.Progress) (vmImage, error) {
	tree := c.Rootfs(a, vmFlavour(c, a))
	p.Phase(a.Debian(), "tree", treeEstimate(c, a))
	if err := labkit.BuildRootfs(ctx, c, a, vmFlavour(c, a), mirror); err != nil {
		return vmImage{}, err
	}
	p.Phase(a.Debian(), "images", 0)
	id := vmImageID(c, imageRecipe(c, a))
	dockerTar, err := dockerArchive(c, a, id)
	if err != nil {
		return vmImage{}, err
	}
	img := vmImage{disk: tree + ".disk-" + id + ".ext4", kernel: tree + ".kernel", initrd: tree + ".initrd", lxdTar: tree + ".lxd-" + id + ".tar", recipe: id}
	marker := img.disk + ".recipe"
	if have, err := os.ReadFile(marker); err == nil && string(have) == img.recipe && !c.Refresh {
		// The tree still holds the preloaded store the disk was made with.
		return img, lxdArchive(c, a, img)
	}
	p.Phase(a.Debian(), "disk image", 0)
	start := time.Now()
	for name, content := range guestFiles {
		if err := writeFileAll(filepath.Join(tree, name), []byte(content), 0o644); err != nil {
			return img, err
		}
	}
	for name, target := range guestLinks {
		link := filepath.Join(tree, name)
		_ = os.Remove(link)
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return img, err
		}
		if err := os.Symlink(target, link); err != nil {
			return img, err
		}
	}
	kernelGlob := "vmlinuz-*"
	if a == host.PPC64EL {
		kernelGlob = "vmlinux-*" // pseries boots the ELF image
	}
	for dst, glob := range map[string]string{img.kernel: kernelGlob, img.initrd: "initrd.img-*"} {
		found, _ := filepath.Glob(filepath.Join(tree, "boot", glob))
		if len(found) != 1 {
			return img, fmt.Errorf("[%s] %d files %s in the tree's /boot, want one", a.Debian(), len(found), glob)
		}
		if err := labkit.Command(ctx, "cp", found[0], dst); err != nil {
			return img, err
		}
	}
	if err := preloadDocker(ctx, c, a, filepath.Join(tree, "var", "lib", "docker"), dockerTar); err != nil {
		return img, fmt.Errorf("[%s] preloading the Docker image: %w", a.Debian(), err)
	}
	_ = os.Remove(img.lxdTar) // made of the store just preloaded
	if err := lxdArchive(c, a, img); err != nil {
		return img, err
	}
	// The disk has room for Docker's and LXD's images and instances; it is
	// sparse, and each machine writes to a qcow2 overlay of its own.
	_ = os.Remove(img.disk)
	if err := labkit.Command(ctx, "mke2fs", "-q", "-F", "-t", "ext4", "-L", rootLabel, "-d", tree, img.disk, "12G"); err != nil {
		return img, err
	}
	if err := os.WriteFile(marker, []byte(img.recipe), 0o644); err != nil {
		return img, err
	}
	fmt.Fprintf(c.Log, "[%s] disk image written in %s\n", a.Debian(), time.Since(start).Round(100*time.Millisecond))
	return img, nil
}

func writeFileAll(file string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, data, mode)
}

// Left out of the images made from a machine's tree: what a container
// never uses (the kernel, its modules and firmware, most of the tree;
// documentation, translations, the hardware database; LXD's programs and
// Docker's tools), and from the Docker image also its daemons' programs
// and store (dpkg still lists docker.io, as on the machine; a container
// runs none of them). The LXD image keeps Docker's, and its store holding
// the lab's image, for Docker inside LXD: pushing the image through LXD's
// file API and loading it in the instance took over 25 minutes per machine
// under TCG. Every byte counts: an emulated machine unpacks these images,
// at 5 to 12 MB/s, on every launch.
var (
	skipInLXDImage = []string{"boot", "usr/lib/modules", "usr/lib/firmware", "usr/share/doc", "usr/share/man", "usr/share/locale",
		"usr/lib/udev/hwdb.bin", "usr/lib/udev/hwdb.d", "var/cache/apt", "var/lib/apt/lists", "usr/bin/lxd", "usr/bin/lxc", "usr/bin/lxd-user",
		"usr/bin/dnet", "usr/bin/ctr", "usr/sbin/ovrouter"}
	skipInDockerImage = append(slices.Clone(skipInLXDImage), "var/lib/docker", "usr/sbin/dockerd", "usr/bin/docker", "usr/bin/containerd", "usr/bin/containerd-shim-runc-v2",
		"usr/bin/docker-proxy", "usr/sbin/runc", "usr/bin/runc", "usr/lib/lxd", "usr/share/lxd")
)

func skipping(paths []string) func(rel string) bool {
	return func(rel string) bool { return slices.Contains(paths, rel) }
}

// vmImageID identifies a machine's disk and images: its tree's recipe, the
// lab's proxy, and what each image leaves out.
func vmImageID(c labkit.Config, treeRecipe string) string {
	return labkit.RecipeID(treeRecipe + string(c.AptProxyConf()) + strings.Join(skipInDockerImage, " ") + strings.Join(skipInLXDImage, " "))
}

// dockerArchive writes (once per image id, cached) the docker-archive of
// a's tree and returns its path.
func dockerArchive(c labkit.Config, a host.Arch, id string) (string, error) {
	tree := c.Rootfs(a, vmFlavour(c, a))
	file := tree + ".docker-" + id + ".tar"
	if err := cached(file, func(f *os.File) error {
		return docker.WriteImage(f, labkit.DockerImage(c.Suite), docker.Platform(a), nil, []string{"/bin/bash"}, func(tw *tar.Writer) error {
			if err := tarball.AddTreeExcept(tw, tree, "", skipping(skipInDockerImage)); err != nil {
				return err
			}
			return tarball.AddFiles(tw, "", map[string][]byte{labkit.AptProxyConfFile: c.AptProxyConf()})
		})
	}); err != nil {
		return "", fmt.Errorf("[%s] docker image: %w", a.Debian(), err)
	}
	return file, nil
}

// lxdArchive writes (cached) img's LXD image, a unified tarball of a's
// tree, whose store must already hold the lab's Docker image.
func lxdArchive(c labkit.Config, a host.Arch, img vmImage) error {
	tree := c.Rootfs(a, vmFlavour(c, a))
	if err := cached(img.lxdTar, func(f *os.File) error {
		return labkit.WriteLXDImage(f, c, a, tree, img.recipe, skipping(skipInLXDImage))
	}); err != nil {
		return fmt.Errorf("[%s] LXD image: %w", a.Debian(), err)
	}
	return nil
}

// cached writes file with write unless it exists.
func cached(file string, write func(*os.File) error) error {
	if _, err := os.Stat(file); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

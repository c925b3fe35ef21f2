// Command image writes everywhere's container images from the binaries of
// make dist: one per architecture under one OCI image index, as an OCI
// layout (make image). No registry, no base image: each holds everywhere
// and a static shell. -docker NAME also writes that platform's image as a
// `docker save` archive, for engines that load no OCI layout.
//
//	go run ./examples/image -dist dist -o dist/image -ref everywhere:v1.0.0
//	docker load -i dist/image-amd64.tar     # after -docker amd64
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"everywhere/internal/ociimage"
	"everywhere/internal/text"
)

func main() {
	dist := flag.String("dist", "dist", "the folder of make dist's everywhere-linux-* binaries")
	out := flag.String("o", "dist/image", "the OCI layout to write")
	ref := flag.String("ref", "everywhere:latest", "the images' name and tag")
	created := flag.String("created", "", "the images' creation time, RFC 3339 (make image passes the commit's); empty: the Unix epoch")
	docker := flag.String("docker", "", "also write this platform's image as DIST/image-PLATFORM.tar, for docker load")
	flag.Parse()
	if err := run(*dist, *out, *ref, *created, *docker); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(dist, out, ref, created, docker string) error {
	when := time.Unix(0, 0)
	if created != "" {
		var err error
		if when, err = time.Parse(time.RFC3339, created); err != nil {
			return fmt.Errorf("-created: %w", err)
		}
	}
	shells, err := os.MkdirTemp("", "everywhere-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(shells)
	binaries, err := ociimage.DistBinaries(dist, shells)
	if err != nil {
		return err
	}
	for _, b := range binaries {
		if err := ociimage.BuildShell(b.Name, b.Shell); err != nil {
			return err
		}
	}
	if err := ociimage.WriteLayout(out, ref, binaries, when); err != nil {
		return err
	}
	fmt.Printf("%s: %s under one index, %s\n", out, text.Count(len(binaries), "image", "images"), ref)
	if docker == "" {
		return nil
	}
	file := filepath.Join(dist, "image-"+docker+".tar")
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := ociimage.DockerArchive(out, docker, ref, f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("%s: the %s image, for docker load\n", file, docker)
	return nil
}

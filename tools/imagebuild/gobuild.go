package main

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// buildStatic compiles o.pkg for linux/o.goarch into dir and returns the
// binary's path. CGO_ENABLED=0 makes it static (Go's own resolver and
// user lookup instead of libc's), so it runs on an image with no libc at
// all; -trimpath keeps the build machine's paths out of it.
func buildStatic(ctx context.Context, o options, dir string) (string, error) {
	out := filepath.Join(dir, "goodwilld")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", o.ldflags, "-o", out, o.pkg)
	cmd.Dir = o.src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.goarch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", o.pkg, err, msg)
	}
	return out, checkStatic(out, o.goarch)
}

// elfMachines are the ELF machine of each GOARCH the image may target.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"386":     elf.EM_386,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

// checkStatic refuses a binary an empty image could not start: one for
// another architecture, or one that asks for a dynamic loader (a
// PT_INTERP header) or shared libraries (a dynamic section), which the
// image does not have. The kernel would report only "no such file".
func checkStatic(path, goarch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	if want, ok := elfMachines[goarch]; ok && f.Machine != want {
		return fmt.Errorf("%s is for %v, not %s", path, f.Machine, goarch)
	}
	var errs []error
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			errs = append(errs, fmt.Errorf("%s asks for a dynamic loader (PT_INTERP): it is not static", path))
		case elf.PT_DYNAMIC:
			errs = append(errs, fmt.Errorf("%s has a dynamic section (PT_DYNAMIC): it links shared libraries", path))
		}
	}
	if f.Section(".interp") != nil || f.Section(".dynamic") != nil {
		errs = append(errs, fmt.Errorf("%s has an .interp or .dynamic section: it is not static", path))
	}
	return errors.Join(errs...)
}

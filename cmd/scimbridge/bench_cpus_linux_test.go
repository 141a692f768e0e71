package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/scimbridge/scimbridge/conformance/harness"
)

// splitCPUs pins every thread of the Gitea server to the first half of
// the CPUs this process may use and every thread of this process to the
// other half (a thread created later inherits its creator's set), and
// sets GOMAXPROCS to match. restore gives this process its CPUs back;
// Gitea keeps its half until it stops. layout says who got what.
func splitCPUs(g *harness.Gitea) (restore func(), layout string, err error) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return nil, "", err
	}
	var cpus []int
	for c := range 1024 {
		if all.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) < 2 {
		return nil, "", fmt.Errorf("%d CPU: nothing to split", len(cpus))
	}
	var theirs, ours unix.CPUSet
	for i, c := range cpus {
		if i < len(cpus)/2 {
			theirs.Set(c)
		} else {
			ours.Set(c)
		}
	}
	procs := giteaProcs(g)
	if len(procs) == 0 {
		return nil, "", errors.New("gitea's process not found")
	}
	for _, p := range procs {
		if err := pinThreads(p, &theirs); err != nil {
			return nil, "", fmt.Errorf("gitea: %w", err)
		}
	}
	if err := pinThreads("/proc/self", &ours); err != nil {
		return nil, "", err
	}
	before := runtime.GOMAXPROCS(ours.Count())
	restore = func() {
		_ = pinThreads("/proc/self", &all)
		runtime.GOMAXPROCS(before)
	}
	return restore, fmt.Sprintf("gitea on %d CPU(s), the bridge on %d", theirs.Count(), ours.Count()), nil
}

// pinThreads sets the CPU set of every thread of the process at proc.
func pinThreads(proc string, set *unix.CPUSet) error {
	tasks, err := filepath.Glob(filepath.Join(proc, "task", "[0-9]*"))
	if err != nil || len(tasks) == 0 {
		return fmt.Errorf("threads of %s: %v", proc, err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(filepath.Base(t))
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
	}
	return nil
}

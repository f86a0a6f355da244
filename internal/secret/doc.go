// Package secret keeps secrets in memory a little more carefully than Go
// does by default.
//
// # Core dumps
//
// A process that holds a secret must not leave it in a core file or let a
// debugger of the same user read it. [Hold] turns both off for the rest of
// the process's life: it sets the RLIMIT_CORE soft and hard limits to zero,
// so the kernel writes no core file, and clears the "dumpable" flag with
// prctl(PR_SET_DUMPABLE, 0), which also stops ptrace attachment by
// unprivileged processes of the same user and makes /proc/PID/mem
// unreadable to them. Nothing turns them back on: breakglass commands hold
// a secret until they exit.
//
// On systems other than Linux, Hold does what the system offers (the core
// limit) and reports what it could not do.
//
// # Wiping
//
// [Wipe] overwrites byte slices. It is best effort: the Go runtime may have
// copied a slice while growing it, and strings cannot be wiped at all, so
// code that handles secrets keeps them in []byte, allocates them at their
// final size, and wipes them as soon as they are used.
package secret

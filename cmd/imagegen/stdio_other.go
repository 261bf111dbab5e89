//go:build !unix

package main

import (
	"context"
	"syscall"
)

// lockFile: without flock, concurrent clients may race to start the stack;
// the loser's stack fails to bind and the client joins the winner's.
func lockFile(ctx context.Context, path string) (unlock func(), err error) { return func() {}, nil }

func detached() *syscall.SysProcAttr { return nil }

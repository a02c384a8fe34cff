/*
Copyright 2026 The Rekomi Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package e2e_test

import (
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPostmasters counts each PostgreSQL server once although a backend it
// has just forked still holds its listening socket, as /proc shows for a
// moment after every connection.
func TestPostmasters(t *testing.T) {
	const dev = 50
	procs := []proc{
		{pid: dev, ppid: 1, comm: "rekomi"},
		{pid: 100, ppid: dev, comm: "postgres", listenAddr: []string{"127.0.0.1:5001"}},
		{pid: 101, ppid: 100, comm: "postgres", listenAddr: []string{"127.0.0.1:5001"}}, // just forked
		{pid: 102, ppid: 100, comm: "postgres"},                                         // checkpointer
		{pid: 200, ppid: 1, comm: "postgres", listenAddr: []string{"127.0.0.1:5002"}},   // reparented
		{pid: 201, ppid: 200, comm: "postgres"},
		{pid: 300, ppid: dev, comm: "etcd", listenAddr: []string{"127.0.0.1:2379"}},
	}
	var pids []int
	for _, p := range postmasters(procs) {
		pids = append(pids, p.pid)
	}
	require.Equal(t, []int{100, 200}, pids)
}

// TestReadProc reads this test's own process as /proc shows it.
func TestReadProc(t *testing.T) {
	self, err := readProc(os.Getpid())
	require.NoError(t, err)
	require.Equal(t, os.Getppid(), self.ppid)
	require.Equal(t, syscall.Getpgrp(), self.pgid)
}

// TestStillListening finds a listening socket of this process until it is
// closed, and does not take a new socket on the same port for it.
func TestStillListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	self, err := readProc(os.Getpid())
	require.NoError(t, err)
	procs, err := withListeners([]proc{self})
	require.NoError(t, err)
	var mine []listener
	for _, l := range procs[0].sockets {
		if l.addr == ln.Addr().String() {
			mine = append(mine, l)
		}
	}
	require.Len(t, mine, 1, "the listener among %v", procs[0].sockets)

	open, err := stillListening(mine)
	require.NoError(t, err)
	require.Equal(t, mine, open)

	require.NoError(t, ln.Close())
	again, err := net.Listen("tcp", mine[0].addr)
	require.NoError(t, err, "the port is free once closed")
	defer again.Close()
	open, err = stillListening(mine)
	require.NoError(t, err)
	require.Empty(t, open, "a new socket on the same port is another one")
}

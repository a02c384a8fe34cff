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
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// proc is a process as /proc/<pid>/stat shows it.
type proc struct {
	pid, ppid  int
	comm       string
	state      string
	pgid, sid  int
	listenAddr []string
	sockets    []listener // listenAddr's sockets
}

// listener is a listening TCP socket: the address a client dials and the
// socket's inode, which no later socket on that address shares.
type listener struct {
	addr, inode string
}

func (p proc) String() string {
	return fmt.Sprintf("%d %s (state %s, process group %d, session %d)", p.pid, p.comm, p.state, p.pgid, p.sid)
}

// stackProcs lists the live processes of the session or process group
// leader: rekomi dev and every server it started. Zombies, which have
// exited and hold nothing but their pid, are left out.
func stackProcs(leader int) ([]proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, err := readProc(pid)
		if errors.Is(err, fs.ErrNotExist) {
			continue // it exited meanwhile
		}
		if err != nil {
			return nil, err
		}
		if (p.sid == leader || p.pgid == leader) && p.state != "Z" {
			out = append(out, p)
		}
	}
	return out, nil
}

// readProc parses /proc/<pid>/stat: "pid (comm) state ppid pgrp session
// ...", where comm may hold spaces and parentheses.
func readProc(pid int) (proc, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, err
	}
	stat := string(data)
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return proc{}, fmt.Errorf("reading /proc/%d/stat: no command name in %q", pid, stat)
	}
	fields := strings.Fields(stat[end+1:])
	if len(fields) < 4 {
		return proc{}, fmt.Errorf("reading /proc/%d/stat: too few fields in %q", pid, stat)
	}
	p := proc{pid: pid, comm: stat[open+1 : end], state: fields[0]}
	if p.ppid, err = strconv.Atoi(fields[1]); err != nil {
		return proc{}, fmt.Errorf("reading /proc/%d/stat: parent: %w", pid, err)
	}
	if p.pgid, err = strconv.Atoi(fields[2]); err != nil {
		return proc{}, fmt.Errorf("reading /proc/%d/stat: process group: %w", pid, err)
	}
	if p.sid, err = strconv.Atoi(fields[3]); err != nil {
		return proc{}, fmt.Errorf("reading /proc/%d/stat: session: %w", pid, err)
	}
	return p, nil
}

// postmasters returns the PostgreSQL servers among procs: the postgres
// processes whose parent is not one. Every other postgres process is a
// backend or worker a server forked, which may still hold, for a moment
// after the fork, the listening sockets it inherited.
func postmasters(procs []proc) []proc {
	comm := make(map[int]string, len(procs))
	for _, p := range procs {
		comm[p.pid] = p.comm
	}
	var out []proc
	for _, p := range procs {
		if p.comm == "postgres" && comm[p.ppid] != "postgres" {
			out = append(out, p)
		}
	}
	return out
}

// withListeners fills in the TCP addresses each process listens on, from
// its open sockets and the kernel's socket tables.
func withListeners(procs []proc) ([]proc, error) {
	listening, err := listeningSockets()
	if err != nil {
		return nil, err
	}
	for i := range procs {
		fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", procs[i].pid))
		if err != nil {
			return nil, err
		}
		for _, fd := range fds {
			target, err := os.Readlink(fd)
			if err != nil {
				continue // closed meanwhile
			}
			inode, ok := strings.CutPrefix(target, "socket:[")
			if !ok {
				continue
			}
			inode = strings.TrimSuffix(inode, "]")
			if addr, ok := listening[inode]; ok {
				procs[i].listenAddr = append(procs[i].listenAddr, addr)
				procs[i].sockets = append(procs[i].sockets, listener{addr: addr, inode: inode})
			}
		}
	}
	return procs, nil
}

// listeningSockets maps the inode of each listening TCP socket to the
// address a client dials to reach it.
func listeningSockets() (map[string]string, error) {
	out := map[string]string{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if errors.Is(err, fs.ErrNotExist) {
			continue // no IPv6
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			addr, err := dialAddr(fields[1])
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("reading %s: %w", table, err)
			}
			out[fields[9]] = addr
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", table, err)
		}
	}
	return out, nil
}

// dialAddr turns a /proc/net/tcp address (hex IP in 32-bit words of host
// byte order, hex port) into host:port, with a wildcard address replaced
// by the loopback address of its family.
func dialAddr(field string) (string, error) {
	hexIP, hexPort, ok := strings.Cut(field, ":")
	if !ok {
		return "", fmt.Errorf("address %q has no port", field)
	}
	raw, err := hex.DecodeString(hexIP)
	if err != nil || (len(raw) != net.IPv4len && len(raw) != net.IPv6len) {
		return "", fmt.Errorf("address %q has no IP", field)
	}
	for i := 0; i < len(raw); i += 4 { // little-endian words
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return "", fmt.Errorf("address %q: port: %w", field, err)
	}
	ip := net.IP(raw)
	if ip.IsUnspecified() {
		ip = net.IPv6loopback
		if len(raw) == net.IPv4len {
			ip = net.IPv4(127, 0, 0, 1)
		}
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10)), nil
}

// stillListening returns the sockets of ls that still listen, whichever
// process holds them. A socket another process has since opened on the same
// address is not one of them.
func stillListening(ls []listener) ([]listener, error) {
	listening, err := listeningSockets()
	if err != nil {
		return nil, err
	}
	var out []listener
	for _, l := range ls {
		if _, ok := listening[l.inode]; ok {
			out = append(out, l)
		}
	}
	return out, nil
}

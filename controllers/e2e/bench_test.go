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
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// scaleOrgs is how many Organizations the scale benchmark creates at once,
// spread over the two sample Regions.
const scaleOrgs = 1000

// BenchmarkOrganizationsAtScale creates 1,000 Organizations across two
// Regions at once and measures, on the manager running as its own process:
// the seconds until all are Ready, organizations and reconciles per second,
// and the manager's peak resident memory. Goals: at least 50 orgs/s, under
// 150 MiB.
func BenchmarkOrganizationsAtScale(b *testing.B) {
	mgr := startManager(b)
	setupRegions(b, mgr)
	run := 0
	for b.Loop() {
		run++
		before := reconcileCount(b, mgr, "organization")
		cpuBefore := cpuSeconds(b, mgr)
		start := time.Now()
		label := fmt.Sprintf("scale-%d", run)
		allReady := watchAllReady(b, label)
		createOrgs(b, label)
		if err := <-allReady; err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		reconciles := reconcileCount(b, mgr, "organization") - before
		b.ReportMetric(elapsed.Seconds(), "s/1000-orgs")
		b.ReportMetric(scaleOrgs/elapsed.Seconds(), "orgs/s")
		b.ReportMetric(reconciles/elapsed.Seconds(), "reconciles/s")
		b.ReportMetric(cpuSeconds(b, mgr)-cpuBefore, "manager-cpu-s")
	}
	b.ReportMetric(peakRSSMiB(b, mgr), "peak-MiB")
}

func createOrgs(b *testing.B, label string) {
	b.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, scaleOrgs)
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				region := []string{"us", "eu"}[i%2]
				org := &rekomiv1.Organization{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%04d", label, i), Labels: map[string]string{"rekomi.io/bench": label}},
					Spec:       rekomiv1.OrganizationSpec{DisplayName: fmt.Sprintf("Org %d", i), Region: region, Plan: rekomiv1.PlanPro},
				}
				if err := env.client.Create(ctx, org); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range scaleOrgs {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("creating organizations: %v", err)
	}
}

// watchAllReady opens a watch on the run's Organizations and returns a
// channel that yields nil once every one is Ready: a watch, not a polled
// list, so waiting costs the API server little.
func watchAllReady(b *testing.B, label string) <-chan error {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	w, err := env.client.Watch(ctx, &rekomiv1.OrganizationList{}, client.MatchingLabels{"rekomi.io/bench": label})
	if err != nil {
		cancel()
		b.Fatalf("watching organizations: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		defer cancel()
		defer w.Stop()
		ready := map[string]bool{}
		for ev := range w.ResultChan() {
			org, ok := ev.Object.(*rekomiv1.Organization)
			if !ok {
				done <- fmt.Errorf("watching organizations: %v", ev.Object)
				return
			}
			ready[org.Name] = meta.IsStatusConditionTrue(org.Status.Conditions, string(rekomiv1.ConditionReady))
			if countTrue(ready) == scaleOrgs {
				done <- nil
				return
			}
		}
		done <- fmt.Errorf("watching organizations: %d of %d Ready when the watch ended", countTrue(ready), scaleOrgs)
	}()
	return done
}

func countTrue(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// reconcileCount reads controller-runtime's reconcile counter for one
// controller from the manager's metrics.
func reconcileCount(b *testing.B, mgr *managerProcess, controller string) float64 {
	b.Helper()
	resp, err := http.Get(mgr.metricsURL)
	if err != nil {
		b.Fatalf("reading manager metrics: %v", err)
	}
	defer resp.Body.Close()
	var total float64
	prefix := `controller_runtime_reconcile_total{controller="` + controller + `"`
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			b.Fatalf("parsing %q: %v", line, err)
		}
		total += v
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return total
}

// peakRSSMiB is the manager process's peak resident set (VmHWM).
func peakRSSMiB(b *testing.B, mgr *managerProcess) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", mgr.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("reading the manager's memory: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), 64)
			if err != nil {
				b.Fatalf("parsing %q: %v", line, err)
			}
			return v / 1024
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}

// cpuSeconds is the CPU time the manager process has used so far (user and
// system), from /proc/<pid>/stat.
func cpuSeconds(b *testing.B, mgr *managerProcess) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", mgr.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("reading the manager's CPU time: %v", err)
	}
	// Fields after the parenthesised command name: utime is the 12th, stime the 13th.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("parsing /proc stat: %v %v", err1, err2)
	}
	const clockTicks = 100 // USER_HZ on Linux
	return (utime + stime) / clockTicks
}

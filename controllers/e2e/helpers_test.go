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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// managerProcess is a running `rekomi manager`.
type managerProcess struct {
	cmd         *exec.Cmd
	log         string
	metricsAddr string
	metricsURL  string
	done        chan error
}

// startManager runs the manager binary against the suite's control plane
// until tb ends, and returns once it serves its metrics.
func startManager(tb testing.TB) *managerProcess {
	tb.Helper()
	// The manager logs the metrics address it was given, not the one it
	// bound, so the port is picked here; another process may take it first,
	// and the manager, unable to bind it, is started again on another.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		p := launchManager(tb, freeAddr(tb))
		if p.waitServing(tb) {
			return p
		}
		if attempt == attempts {
			tb.Fatalf("the manager found its metrics port taken %d times", attempts)
		}
		tb.Logf("the manager's metrics port %s was taken; starting it on another", p.metricsAddr)
	}
}

// freeAddr is a localhost address no listener holds at the moment.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// launchManager starts the manager with its metrics on metricsAddr and
// stops it when tb ends.
func launchManager(tb testing.TB, metricsAddr string) *managerProcess {
	tb.Helper()
	logFile, err := os.CreateTemp(tb.TempDir(), "manager-*.log")
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(env.binary, "manager",
		"--app-image=rekomi:e2e",
		"--metrics-bind-address="+metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address=0",
		"--resync-period=1m", "--operator-namespace=rekomi-system")
	// The manager has the rights of an install, not the suite's.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.managerKubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting the manager: %v", err)
	}
	p := &managerProcess{cmd: cmd, log: logFile.Name(), metricsAddr: metricsAddr,
		metricsURL: "http://" + metricsAddr + "/metrics", done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		logFile.Close()
		if tb.Failed() {
			out, _ := os.ReadFile(p.log)
			tb.Logf("manager log (tail):\n%s", tail(out, 4000))
		}
	})
	return p
}

// waitServing waits until the manager has bound its metrics address, which
// it logs right after. It returns false when the manager exited because
// another process holds that address, and fails tb when it exited for
// another reason or takes longer than a minute.
func (p *managerProcess) waitServing(tb testing.TB) bool {
	tb.Helper()
	const serving = "Serving metrics server"
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		out, _ := os.ReadFile(p.log)
		if bytes.Contains(out, []byte(serving)) {
			return true
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the manager has not logged %q within a minute", serving)
		}
		select {
		case err := <-p.done:
			p.done <- err
			out, _ := os.ReadFile(p.log)
			if !bytes.Contains(out, []byte(serving)) && bytes.Contains(out, []byte(syscall.EADDRINUSE.Error())) {
				return false
			}
			tb.Fatalf("the manager exited as it started: %v", err)
		case <-tick.C:
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitFor polls check until it reports done, failing tb with the last
// reason when timeout passes or the manager, when there is one, exits.
func waitFor(tb testing.TB, mgr *managerProcess, timeout time.Duration, what string, check func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var exited chan error // none without a manager
	if mgr != nil {
		exited = mgr.done
	}
	for {
		ok, why := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("waiting for %s: %s", what, why)
		}
		select {
		case err := <-exited:
			exited <- err
			tb.Fatalf("waiting for %s: the manager exited: %v", what, err)
		case <-tick.C:
		}
	}
}

// conditionStatus reads one condition of obj, fetched fresh.
func conditionStatus(tb testing.TB, obj client.Object, conds func() []metav1.Condition, t rekomiv1.ConditionType) (metav1.ConditionStatus, string, string) {
	tb.Helper()
	if err := env.client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		return metav1.ConditionUnknown, "", err.Error()
	}
	c := meta.FindStatusCondition(conds(), string(t))
	if c == nil {
		return metav1.ConditionUnknown, "", "no " + string(t) + " condition yet"
	}
	return c.Status, c.Reason, c.Message
}

// waitCondition waits until obj's condition t has the given status.
func waitCondition(tb testing.TB, mgr *managerProcess, obj client.Object, conds func() []metav1.Condition, t rekomiv1.ConditionType, want metav1.ConditionStatus, timeout time.Duration) {
	tb.Helper()
	waitFor(tb, mgr, timeout, fmt.Sprintf("%s %s=%s", obj.GetName(), t, want), func() (bool, string) {
		status, r, msg := conditionStatus(tb, obj, conds, t)
		return status == want, fmt.Sprintf("%s=%s (%s: %s)", t, status, r, msg)
	})
}

// waitReason waits until obj's condition t has the given status and
// reason. A pass may report another reason on the way, such as
// DatabaseUnreachable while a new manager connects; a wrong one that stays
// fails tb with the condition last seen.
func waitReason(tb testing.TB, mgr *managerProcess, obj client.Object, conds func() []metav1.Condition, t rekomiv1.ConditionType,
	want metav1.ConditionStatus, reason rekomiv1.ConditionReason, timeout time.Duration) {
	tb.Helper()
	waitFor(tb, mgr, timeout, fmt.Sprintf("%s %s=%s with reason %s", obj.GetName(), t, want, reason), func() (bool, string) {
		status, r, msg := conditionStatus(tb, obj, conds, t)
		return status == want && r == string(reason), fmt.Sprintf("%s=%s (%s: %s)", t, status, r, msg)
	})
}

// setupRegions creates the admin Secrets and the sample Regions (once), and
// waits for their databases, playing the Deployment controller for their
// apps since no kubelet runs here.
func setupRegions(tb testing.TB, mgr *managerProcess) {
	tb.Helper()
	ctx := context.Background()
	for region, url := range env.pgURLs {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: "postgres-admin-" + region,
				Labels: map[string]string{rekomiv1.WatchLabel: "true"}},
			StringData: map[string]string{"url": url},
		}
		if err := env.client.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
			tb.Fatal(err)
		}
	}
	for _, file := range []string{"rekomi_v1alpha1_region_us.yaml", "rekomi_v1alpha1_region_eu.yaml"} {
		applySample(tb, file)
	}
	for _, name := range []string{"us", "eu"} {
		region := &rekomiv1.Region{ObjectMeta: metav1.ObjectMeta{Name: name}}
		conds := func() []metav1.Condition { return region.Status.Conditions }
		waitCondition(tb, mgr, region, conds, rekomiv1.ConditionIsolationVerified, metav1.ConditionTrue, 3*time.Minute)
		markAppAvailable(tb, mgr, region)
		waitCondition(tb, mgr, region, conds, rekomiv1.ConditionReady, metav1.ConditionTrue, time.Minute)
	}
}

// applySample creates every object of one file of config/samples.
func applySample(tb testing.TB, file string) {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", file))
	if err != nil {
		tb.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := env.client.Create(context.Background(), u); err != nil && !apierrors.IsAlreadyExists(err) {
			tb.Fatalf("%s: creating %s %s: %v", file, u.GetKind(), u.GetName(), err)
		}
	}
}

// markAppAvailable plays the Deployment controller for a Region's app. The
// manager may update the Deployment meanwhile, so a conflict is retried on
// a fresh copy.
func markAppAvailable(tb testing.TB, mgr *managerProcess, region *rekomiv1.Region) {
	tb.Helper()
	ctx := context.Background()
	key := types.NamespacedName{Namespace: region.Spec.Namespace, Name: region.Name + "-app"}
	waitFor(tb, mgr, time.Minute, "the app Deployment of "+region.Name, func() (bool, string) {
		err := env.client.Get(ctx, key, &appsv1.Deployment{})
		return err == nil, fmt.Sprint(err)
	})
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep := &appsv1.Deployment{}
		if err := env.client.Get(ctx, key, dep); err != nil {
			return err
		}
		dep.Status.Replicas, dep.Status.AvailableReplicas, dep.Status.ReadyReplicas = 2, 2, 2
		dep.Status.Conditions = []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
			LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}}
		return env.client.Status().Update(ctx, dep)
	})
	if err != nil {
		tb.Fatalf("marking %s available: %v", key, err)
	}
}

// createOrganization creates org and, when tb ends, deletes it and waits
// until it is gone, so that the next run can create it again.
func createOrganization(tb testing.TB, mgr *managerProcess, org *rekomiv1.Organization) {
	tb.Helper()
	ctx := context.Background()
	if err := env.client.Create(ctx, org); err != nil {
		tb.Fatalf("creating organization %s: %v", org.Name, err)
	}
	tb.Cleanup(func() {
		if err := env.client.Delete(ctx, org); err != nil && !apierrors.IsNotFound(err) {
			tb.Fatalf("deleting organization %s: %v", org.Name, err)
		}
		waitFor(tb, mgr, time.Minute, "organization "+org.Name+" to be deleted", func() (bool, string) {
			err := env.client.Get(ctx, client.ObjectKeyFromObject(org), &rekomiv1.Organization{})
			if err == nil {
				return false, "it still exists"
			}
			return apierrors.IsNotFound(err), err.Error()
		})
	})
}

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

package devstack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/controllers"
)

// The apps run in-process, with no kubelet to mount their Region's audit
// witness ConfigMaps, so the stack mirrors them into a directory per Region
// the way the kubelet updates a ConfigMap volume: every file written into a
// new directory, the ..data symlink swapped to it at once, and one symlink
// per key through ..data.

// witnessMirrorPeriod is how often the shards are copied; a kubelet takes
// up to about a minute.
const witnessMirrorPeriod = time.Second

// withAuditWitness configures cfg as the Region's Deployment configures its
// pods' audit witness, with the shards mirrored under dir. A Deployment
// without a witness leaves cfg without one.
func (s *Stack) withAuditWitness(ctx context.Context, dir string, region *rekomiv1.Region, cfg *config.Config) error {
	dep := &appsv1.Deployment{}
	key := types.NamespacedName{Namespace: region.Spec.Namespace, Name: region.Name + "-app"}
	if err := s.Client.Get(ctx, key, dep); err != nil {
		return fmt.Errorf("reading the app Deployment of region %s: %w", region.Name, err)
	}
	var publicKey string
	for _, c := range dep.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == "REKOMI_AUDIT_WITNESS_PUBLIC_KEY" {
				publicKey = e.Value
			}
		}
	}
	if publicKey == "" {
		return nil
	}
	witnessDir := filepath.Join(dir, "audit-witness", region.Name)
	if err := os.MkdirAll(witnessDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", witnessDir, err)
	}
	if err := s.mirrorWitness(ctx, region, witnessDir); err != nil {
		return err
	}
	s.goRun(ctx, "audit witness mirror of region "+region.Name, func(ctx context.Context) error {
		tick := time.NewTicker(witnessMirrorPeriod)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			if err := s.mirrorWitness(ctx, region, witnessDir); err != nil && ctx.Err() == nil {
				return err
			}
		}
	})
	cfg.AuditWitnessDir, cfg.AuditWitnessPublicKey = witnessDir, publicKey
	return nil
}

// mirrorWitness copies the Region's shards into dir when they changed.
func (s *Stack) mirrorWitness(ctx context.Context, region *rekomiv1.Region, dir string) error {
	var list corev1.ConfigMapList
	if err := s.Client.List(ctx, &list, client.InNamespace(region.Spec.Namespace),
		client.MatchingLabels{controllers.WitnessShardLabel: "true", "rekomi.io/region": region.Name}); err != nil {
		return fmt.Errorf("listing the audit witness shards of region %s: %w", region.Name, err)
	}
	files := map[string]string{}
	for _, cm := range list.Items {
		for k, v := range cm.Data {
			files[k] = v
		}
	}
	return writeAtomically(dir, files)
}

// writeAtomically makes dir hold exactly files, as the kubelet's atomic
// writer does: a reader sees the old set or the new one, never a mix or a
// half-written file. Nothing is written when dir already holds files.
func writeAtomically(dir string, files map[string]string) error {
	if same, err := holds(dir, files); err != nil || same {
		return err
	}
	stamp, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return fmt.Errorf("writing the audit witness mirror: %w", err)
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(stamp, k), []byte(v), 0o600); err != nil {
			return fmt.Errorf("writing the audit witness mirror: %w", err)
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(stamp), tmp); err != nil {
		return fmt.Errorf("writing the audit witness mirror: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return fmt.Errorf("swapping the audit witness mirror: %w", err)
	}
	if err := linkKeys(dir, files); err != nil {
		return err
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			return fmt.Errorf("removing the previous audit witness mirror: %w", err)
		}
	}
	return nil
}

// linkKeys points a symlink per key through ..data and removes those of
// keys no longer there.
func linkKeys(dir string, files map[string]string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading the audit witness mirror: %w", err)
	}
	for _, e := range entries {
		if _, keep := files[e.Name()]; !keep && !strings.HasPrefix(e.Name(), "..") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("removing %s from the audit witness mirror: %w", e.Name(), err)
			}
		}
	}
	for k := range files {
		link := filepath.Join(dir, k)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", k), link); err != nil {
			return fmt.Errorf("linking %s in the audit witness mirror: %w", k, err)
		}
	}
	return nil
}

// holds says whether dir shows exactly files.
func holds(dir string, files map[string]string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("reading the audit witness mirror: %w", err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		n++
		want, ok := files[e.Name()]
		if !ok {
			return false, nil
		}
		got, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) || (err == nil && string(got) != want) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading the audit witness mirror: %w", err)
		}
	}
	return n == len(files), nil
}

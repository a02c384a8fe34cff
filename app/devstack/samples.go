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
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// adminNamespace holds the admin Secrets the sample Regions name.
const adminNamespace = "rekomi-system"

// samples are the objects of config/samples, in file order.
type samples []*unstructured.Unstructured

// readSamples decodes every YAML document of every file in dir.
func readSamples(dir string) (samples, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no samples in %s (run rekomi dev from the root of the source tree)", dir)
	}
	sort.Strings(files)
	var out samples
	for _, file := range files {
		objs, err := readYAML(file)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func readYAML(file string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	var out []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("decoding %s: %w", file, err)
		}
		if len(obj.Object) > 0 {
			out = append(out, obj)
		}
	}
}

// regions are the names of the sample Regions.
func (ss samples) regions() []string {
	var names []string
	for _, obj := range ss {
		if obj.GetKind() == "Region" {
			names = append(names, obj.GetName())
		}
	}
	return names
}

// regionSample is a Region as dev runs it: its app listens on addr, and its
// database server is at dbHost (host:port).
type regionSample struct {
	name, addr, dbHost string
	ln                 net.Listener // bound to addr, for the app to serve on
}

// applySamples creates the admin Secrets and then every sample object, each
// Region pointed at its local server and at a localhost app address.
func (s *Stack) applySamples(ctx context.Context, ss samples, pgURLs map[string]string) ([]regionSample, error) {
	if err := s.ensureOperatorNamespace(ctx); err != nil {
		return nil, err
	}
	var regions []regionSample
	for _, obj := range ss {
		if obj.GetKind() == "Region" {
			r, err := s.localizeRegion(ctx, obj, pgURLs[obj.GetName()])
			if err != nil {
				return nil, err
			}
			regions = append(regions, r)
		}
		if ns := obj.GetNamespace(); ns != "" {
			if err := s.ensureNamespace(ctx, ns); err != nil {
				return nil, err
			}
		}
		if err := s.createOrUpdate(ctx, obj); err != nil {
			return nil, fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return regions, nil
}

// createOrUpdate creates obj, or replaces the spec and data of the object
// kept from an earlier start.
func (s *Stack) createOrUpdate(ctx context.Context, obj client.Object) error {
	err := s.Client.Create(ctx, obj)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	current := &unstructured.Unstructured{}
	current.SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	if err := s.Client.Get(ctx, client.ObjectKeyFromObject(obj), current); err != nil {
		return err
	}
	obj.SetResourceVersion(current.GetResourceVersion())
	obj.SetFinalizers(current.GetFinalizers())
	obj.SetOwnerReferences(current.GetOwnerReferences())
	return s.Client.Update(ctx, obj)
}

// localizeRegion creates the Region's admin Secret with its server's URL,
// and points the Region's public URL at a free localhost port with one
// replica, the one app dev runs.
func (s *Stack) localizeRegion(ctx context.Context, obj *unstructured.Unstructured, adminURL string) (regionSample, error) {
	ref, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "database", "adminSecretRef")
	key := ref["key"]
	if key == "" {
		key = "url" // the CRD's default
	}
	secret := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ref["namespace"], Name: ref["name"],
			Labels: map[string]string{rekomiv1.WatchLabel: "true"}}, // a new URL is taken up at once
		Data: map[string][]byte{key: []byte(adminURL)},
	}
	if err := s.ensureNamespace(ctx, secret.Namespace); err != nil {
		return regionSample{}, err
	}
	if err := s.createOrUpdate(ctx, secret); err != nil {
		return regionSample{}, fmt.Errorf("applying admin Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	ln, err := s.appListener(ctx, obj.GetName())
	if err != nil {
		return regionSample{}, err
	}
	s.stops = append(s.stops, func() { _ = ln.Close() }) // should the app never take it
	addr := ln.Addr().String()
	if err := unstructured.SetNestedField(obj.Object, "http://"+addr, "spec", "app", "publicBaseURL"); err != nil {
		return regionSample{}, err
	}
	if err := unstructured.SetNestedField(obj.Object, int64(1), "spec", "app", "replicas"); err != nil {
		return regionSample{}, err
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return regionSample{}, fmt.Errorf("admin URL of region %s: %w", obj.GetName(), err)
	}
	return regionSample{name: obj.GetName(), addr: addr, dbHost: u.Host, ln: ln}, nil
}

func (s *Stack) ensureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := s.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// ensureOperatorNamespace creates adminNamespace, the operator's, labelled
// as config/manager labels it (the admission policy of config/admission
// finds it so), and labels it when kept data holds it without the label.
func (s *Stack) ensureOperatorNamespace(ctx context.Context) error {
	if err := s.ensureNamespace(ctx, adminNamespace); err != nil {
		return err
	}
	ns := &corev1.Namespace{}
	if err := s.Client.Get(ctx, client.ObjectKey{Name: adminNamespace}, ns); err != nil {
		return fmt.Errorf("reading namespace %s: %w", adminNamespace, err)
	}
	if ns.Labels[rekomiv1.OperatorNamespaceLabel] == "true" {
		return nil
	}
	patched := ns.DeepCopy()
	if patched.Labels == nil {
		patched.Labels = map[string]string{}
	}
	patched.Labels[rekomiv1.OperatorNamespaceLabel] = "true"
	if err := s.Client.Patch(ctx, patched, client.MergeFrom(ns)); err != nil {
		return fmt.Errorf("labelling namespace %s as the operator's: %w", adminNamespace, err)
	}
	return nil
}

// appListener binds the localhost address of a Region's app: the one of an
// earlier start while it is free, so that URLs stay the same, or a new one.
// It is bound from now on, so no other process can take it before the app
// serves on it.
func (s *Stack) appListener(ctx context.Context, region string) (net.Listener, error) {
	kept := &rekomiv1.Region{}
	if err := s.Client.Get(ctx, client.ObjectKey{Name: region}, kept); err == nil {
		if u, err := url.Parse(kept.Spec.App.PublicBaseURL); err == nil && u.Hostname() == "127.0.0.1" {
			if l, err := net.Listen("tcp", u.Host); err == nil {
				return l, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("binding a localhost port for the app of region %s: %w", region, err)
	}
	return l, nil
}

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

package controllers

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

func TestWitnessShards(t *testing.T) {
	t.Parallel()
	audit := &rekomiv1.AuditWitness{KeyID: "k", Signature: []byte("s"),
		Checkpoints: []rekomiv1.AuditCheckpoint{{Seq: 2, Hash: make([]byte, 32)}}}
	org := func(id, region string, mutate ...func(*rekomiv1.Organization)) rekomiv1.Organization {
		o := rekomiv1.Organization{ObjectMeta: metav1.ObjectMeta{Name: id}, Spec: rekomiv1.OrganizationSpec{Region: region},
			Status: rekomiv1.OrganizationStatus{ID: id, Audit: audit}}
		for _, m := range mutate {
			m(&o)
		}
		return o
	}
	live := "a1000000-0000-4000-8000-000000000001"
	alsoA := "a2000000-0000-4000-8000-000000000002"
	zero := "0f000000-0000-4000-8000-000000000003"
	shards, err := witnessShards("eu", []rekomiv1.Organization{
		org(live, "eu"),
		org(alsoA, "eu"),
		org(zero, "eu"),
		org("b0000000-0000-4000-8000-000000000004", "us"),
		org("c0000000-0000-4000-8000-000000000005", "eu", func(o *rekomiv1.Organization) { o.Status.Audit = nil }),
		org("d0000000-0000-4000-8000-000000000006", "eu", func(o *rekomiv1.Organization) {
			o.Status.Conditions = []metav1.Condition{{Type: string(rekomiv1.ConditionPurged), Status: metav1.ConditionTrue}}
		}),
		org("not-a-uuid", "eu"),
	})
	require.NoError(t, err)
	for i, s := range shards {
		switch i {
		case 0xa:
			require.Len(t, s, 2, "both organizations starting with a")
			require.Contains(t, s, live)
			require.Contains(t, s, alsoA)
		case 0x0:
			require.Len(t, s, 1)
			require.Contains(t, s[zero], `"orgID":"`+zero+`"`)
		default:
			require.Empty(t, s, "shard %x: another Region's, unwitnessed and purged organizations are left out", i)
		}
	}
	require.Equal(t, "eu-audit-witness-a", WitnessShardName("eu", witnessShardOf(uuid.MustParse(live))))
}

func TestWithAuditWitness(t *testing.T) {
	t.Parallel()
	region := &rekomiv1.Region{ObjectMeta: metav1.ObjectMeta{Name: "eu"}}
	template := func() corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}}
	}

	t.Run("NothingWithoutAKey", func(t *testing.T) {
		tmpl := template()
		withAuditWitness(region, "", &tmpl)
		require.Equal(t, template(), tmpl)
	})

	t.Run("MountsEveryShardOptionally", func(t *testing.T) {
		tmpl := template()
		withAuditWitness(region, "cHVibGlj", &tmpl)
		require.Len(t, tmpl.Spec.Volumes, 1)
		sources := tmpl.Spec.Volumes[0].Projected.Sources
		require.Len(t, sources, 16)
		require.Equal(t, "eu-audit-witness-0", sources[0].ConfigMap.Name)
		require.Equal(t, "eu-audit-witness-f", sources[15].ConfigMap.Name)
		c := tmpl.Spec.Containers[0]
		require.Equal(t, []corev1.VolumeMount{{Name: "audit-witness", MountPath: auditWitnessDir, ReadOnly: true}}, c.VolumeMounts)
		require.Equal(t, []corev1.EnvVar{{Name: "REKOMI_AUDIT_WITNESS_DIR", Value: auditWitnessDir},
			{Name: "REKOMI_AUDIT_WITNESS_PUBLIC_KEY", Value: "cHVibGlj"}}, c.Env)
	})
}

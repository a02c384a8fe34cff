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
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// conditionSet collects the conditions one reconcile decides, so the status
// is patched once, and only when something changed.
type conditionSet struct {
	conditions *[]metav1.Condition
	generation int64
	changed    []metav1.Condition // conditions whose status or reason moved
}

func newConditionSet(conditions *[]metav1.Condition, generation int64) *conditionSet {
	return &conditionSet{conditions: conditions, generation: generation}
}

// set records a condition as True or False.
func (c *conditionSet) set(t rekomiv1.ConditionType, ok bool, reason rekomiv1.ConditionReason, message string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	c.setStatus(t, status, reason, message)
}

// unknown records that condition t could not be checked this time, so an
// earlier True is not left standing as if it were current.
func (c *conditionSet) unknown(t rekomiv1.ConditionType, reason rekomiv1.ConditionReason, message string) {
	c.setStatus(t, metav1.ConditionUnknown, reason, message)
}

// setStatus records a condition and notes it when its status or reason moved.
func (c *conditionSet) setStatus(t rekomiv1.ConditionType, status metav1.ConditionStatus, reason rekomiv1.ConditionReason, message string) {
	// A copy: SetStatusCondition updates the stored condition in place.
	var prev *metav1.Condition
	if found := meta.FindStatusCondition(*c.conditions, string(t)); found != nil {
		prev = found.DeepCopy()
	}
	cond := metav1.Condition{
		Type:               string(t),
		Status:             status,
		Reason:             string(reason),
		Message:            message,
		ObservedGeneration: c.generation,
	}
	meta.SetStatusCondition(c.conditions, cond)
	if prev == nil || prev.Status != status || prev.Reason != string(reason) {
		c.changed = append(c.changed, cond)
	}
}

// isTrue reports whether condition t is True.
func (c *conditionSet) isTrue(t rekomiv1.ConditionType) bool {
	return meta.IsStatusConditionTrue(*c.conditions, string(t))
}

// setReady sets Ready from the given conditions: True when all are, else
// False naming the first that is not.
func (c *conditionSet) setReady(required ...rekomiv1.ConditionType) {
	for _, t := range required {
		cond := meta.FindStatusCondition(*c.conditions, string(t))
		if cond == nil || cond.Status != metav1.ConditionTrue {
			msg := string(t) + " is not True yet"
			if cond != nil {
				msg = string(t) + ": " + cond.Message
			}
			c.set(rekomiv1.ConditionReady, false, rekomiv1.ReasonDependencyNotReady, msg)
			return
		}
	}
	c.set(rekomiv1.ConditionReady, true, rekomiv1.ReasonReconciled, "all conditions are True")
}

// maxMessage bounds a condition message: enough for a human, small enough
// for a status.
const maxMessage = 1024

// oneLine renders err for a condition message: one line, bounded.
func oneLine(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if len(msg) > maxMessage {
		msg = msg[:maxMessage-3] + "..."
	}
	return msg
}

// chosenReason says whether reason, on a False condition, reports a
// choice of the spec rather than a fault: nothing to warn about.
func chosenReason(reason string) bool {
	return reason == string(rekomiv1.ReasonStripeKeyNotConfigured)
}

// emitConditionEvents records an event for each condition that moved, with
// the condition's reason: Warning unless it turned True or its reason is
// one the spec chose.
func emitConditionEvents(rec events.EventRecorder, obj runtime.Object, changed []metav1.Condition) {
	for _, c := range changed {
		kind := corev1.EventTypeNormal
		if c.Status != metav1.ConditionTrue && !chosenReason(c.Reason) {
			kind = corev1.EventTypeWarning
		}
		rec.Eventf(obj, nil, kind, c.Reason, "Reconcile", "%s: %s", c.Type, c.Message)
	}
}

# A plan policy over `stackhook plan --format json`, in the style of
# Spacelift's plan policies: each stack label allows some clusters, roles
# and regions, and a step that uses anything its stack's labels do not
# allow is denied.
#
# Input: {"plan": <the plan JSON>, "stack": {"id": "...", "labels": [...]}}
# (on Spacelift, the labels are input.spacelift.stack.labels; see README.md).
# Result: data.stackhook.deny, a set of messages; empty means allowed.
package stackhook

import rego.v1

# What each label allows. Edit this table; a stack may use a value when
# any one of its labels allows it.
allowed := {
	"env:prod": {
		"clusters": {"prod-eks", "prod-gke", "prod-aks"},
		"roles": {"arn:aws:iam::111122223333:role/prod-deployer"},
		"regions": {"eu-west-1", "europe-west1"},
	},
	"env:dev": {
		"clusters": {"dev-eks", "dev-gke", "dev-aks"},
		"roles": {"arn:aws:iam::444455556666:role/dev-deployer"},
		"regions": {"eu-west-1", "us-east-1", "europe-west1", "us-central1"},
	},
}

# The plan's format this policy was written for.
deny contains msg if {
	input.plan.version != 1
	msg := sprintf("plan format version %v: this policy reads version 1", [input.plan.version])
}

allows(kind, value) if {
	some label in input.stack.labels
	value in allowed[label][kind]
}

# A value still written as ${NAME} was not resolved: the plan was made
# without the stack's environment, or the variable is a secret. Either
# way the policy cannot tell what the step will use.
unresolved(value) if contains(value, "${")

# The steps' cluster, role and region parameters, by kind.
uses contains [step.name, "clusters", step.parameters.cluster] if {
	some step in input.plan.steps
	step.parameters.cluster
}

uses contains [step.name, "roles", role] if {
	some step in input.plan.steps
	some key in ["role_arn", "assume_role_arn"]
	role := step.parameters[key]
}

uses contains [step.name, "regions", step.parameters.region] if {
	some step in input.plan.steps
	step.parameters.region
}

# A zone is allowed where its region is: europe-west1-b (its last part one
# letter) is in europe-west1.
# GKE's `location` is a region or a zone.
uses contains [step.name, "regions", region_of(place)] if {
	some step in input.plan.steps
	some key in ["zone", "location"]
	place := step.parameters[key]
}

region_of(zone) := concat("-", array.slice(parts, 0, count(parts) - 1)) if {
	parts := split(zone, "-")
	count(parts[count(parts) - 1]) == 1
} else := zone

deny contains msg if {
	some [step, kind, value] in uses
	unresolved(value)
	msg := sprintf("step %q: %s value %q is not resolved; make the plan with the stack's environment", [step, kind, value])
}

deny contains msg if {
	some [step, kind, value] in uses
	not unresolved(value)
	not allows(kind, value)
	msg := sprintf("step %q: %s %q is not allowed for a stack labelled %v", [step, kind, value, input.stack.labels])
}

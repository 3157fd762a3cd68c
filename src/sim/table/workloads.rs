//! Printers of the workload kinds (apps, batch, autoscaling, policy), after kube-apiserver's
//! `pkg/printers/internalversion`. The server prints wide rows; kubectl hides priority-1 columns.

use serde_json::{Value, json};

use super::format::{
    age, arr, bool_ptr, containers, format_labels, format_selector, human_duration, i,
    int_or_string, parse_time, s, selector_string, since,
};
use super::{AGE, NAME, Printer, c, wide};

const CONTAINERS: &str = "Names of each container in the template.";
const IMAGES: &str = "Images referenced by each container in the template.";
const SELECTOR: &str = "A label query over pods that should match the replica count.";

/// `spec.replicas`, defaulted to 1 as the apiserver defaults it.
fn replicas(o: &Value) -> i64 {
    o["spec"]["replicas"].as_i64().unwrap_or(1)
}

pub(super) const DEPLOYMENT: Printer = Printer {
    columns: &[
        NAME,
        c("Ready", "string", "Number of the pod with ready state"),
        c(
            "Up-to-date",
            "string",
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
        ),
        c(
            "Available",
            "string",
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        ),
        AGE,
        wide("Containers", "string", CONTAINERS),
        wide("Images", "string", IMAGES),
        wide(
            "Selector",
            "string",
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
        ),
    ],
    row: |o, now| {
        let (names, images) = containers(&o["spec"]["template"]["spec"]);
        let selector =
            selector_string(&o["spec"]["selector"]).unwrap_or_else(|| "<invalid>".to_string());
        vec![
            json!(s(o, "/metadata/name")),
            json!(format!("{}/{}", i(o, "/status/readyReplicas"), replicas(o))),
            json!(i(o, "/status/updatedReplicas")),
            json!(i(o, "/status/availableReplicas")),
            json!(age(o, now)),
            json!(names),
            json!(images),
            json!(selector),
        ]
    },
};

pub(super) const STATEFUL_SET: Printer = Printer {
    columns: &[
        NAME,
        c("Ready", "string", "Number of the pod with ready state"),
        AGE,
        wide("Containers", "string", CONTAINERS),
        wide("Images", "string", IMAGES),
    ],
    row: |o, now| {
        let (names, images) = containers(&o["spec"]["template"]["spec"]);
        vec![
            json!(s(o, "/metadata/name")),
            json!(format!("{}/{}", i(o, "/status/readyReplicas"), replicas(o))),
            json!(age(o, now)),
            json!(names),
            json!(images),
        ]
    },
};

pub(super) const DAEMON_SET: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Desired",
            "integer",
            "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).",
        ),
        c(
            "Current",
            "integer",
            "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
        ),
        c(
            "Ready",
            "integer",
            "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
        ),
        c(
            "Up-to-date",
            "integer",
            "The total number of nodes that are running updated daemon pod",
        ),
        c(
            "Available",
            "integer",
            "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
        ),
        c(
            "Node Selector",
            "string",
            "NodeSelector is a selector which must be true for the pod to fit on a node.",
        ),
        AGE,
        wide("Containers", "string", CONTAINERS),
        wide("Images", "string", IMAGES),
        wide(
            "Selector",
            "string",
            "A label query over pods that are managed by the daemon set.",
        ),
    ],
    row: |o, now| {
        let (names, images) = containers(&o["spec"]["template"]["spec"]);
        vec![
            json!(s(o, "/metadata/name")),
            json!(i(o, "/status/desiredNumberScheduled")),
            json!(i(o, "/status/currentNumberScheduled")),
            json!(i(o, "/status/numberReady")),
            json!(i(o, "/status/updatedNumberScheduled")),
            json!(i(o, "/status/numberAvailable")),
            json!(format_labels(
                &o["spec"]["template"]["spec"]["nodeSelector"]
            )),
            json!(age(o, now)),
            json!(names),
            json!(images),
            json!(format_selector(&o["spec"]["selector"])),
        ]
    },
};

pub(super) const REPLICA_SET: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Desired",
            "integer",
            "Replicas is the number of desired replicas.",
        ),
        c(
            "Current",
            "integer",
            "Replicas is the most recently observed number of replicas.",
        ),
        c(
            "Ready",
            "integer",
            "The number of ready replicas for this replica set.",
        ),
        AGE,
        wide("Containers", "string", CONTAINERS),
        wide("Images", "string", IMAGES),
        wide("Selector", "string", SELECTOR),
    ],
    row: |o, now| {
        let (names, images) = containers(&o["spec"]["template"]["spec"]);
        vec![
            json!(s(o, "/metadata/name")),
            json!(replicas(o)),
            json!(i(o, "/status/replicas")),
            json!(i(o, "/status/readyReplicas")),
            json!(age(o, now)),
            json!(names),
            json!(images),
            json!(format_selector(&o["spec"]["selector"])),
        ]
    },
};

pub(super) const JOB: Printer = Printer {
    columns: &[
        NAME,
        c("Status", "string", "Status of the job."),
        c(
            "Completions",
            "string",
            "The number of pods which reached phase Succeeded.",
        ),
        c("Duration", "string", "Time required to complete the job."),
        AGE,
        wide("Containers", "string", CONTAINERS),
        wide("Images", "string", IMAGES),
        wide(
            "Selector",
            "string",
            "A label query over pods that should match the pod count.",
        ),
    ],
    row: job_row,
};

fn job_condition(o: &Value, ty: &str) -> bool {
    arr(o, "/status/conditions")
        .iter()
        .find(|c| c["type"] == ty)
        .is_some_and(|c| c["status"] == "True")
}

fn job_row(o: &Value, now: i64) -> Vec<Value> {
    let succeeded = i(o, "/status/succeeded");
    let completions = match o["spec"]["completions"].as_i64() {
        Some(n) => format!("{succeeded}/{n}"),
        None => match o["spec"]["parallelism"].as_i64().unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = o["status"]["startTime"].as_str().and_then(parse_time);
    let end = o["status"]["completionTime"].as_str().and_then(parse_time);
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(st), None) => human_duration(now - st),
        (Some(st), Some(en)) => human_duration(en - st),
    };
    let status = if job_condition(o, "Complete") {
        "Complete"
    } else if job_condition(o, "Failed") {
        "Failed"
    } else if o["metadata"]["deletionTimestamp"].is_string() {
        "Terminating"
    } else if job_condition(o, "Suspended") {
        "Suspended"
    } else if job_condition(o, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = containers(&o["spec"]["template"]["spec"]);
    vec![
        json!(s(o, "/metadata/name")),
        json!(status),
        json!(completions),
        json!(duration),
        json!(age(o, now)),
        json!(names),
        json!(images),
        json!(format_selector(&o["spec"]["selector"])),
    ]
}

pub(super) const CRON_JOB: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Schedule",
            "string",
            "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
        ),
        c(
            "Timezone",
            "string",
            "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
        ),
        c(
            "Suspend",
            "boolean",
            "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.",
        ),
        c(
            "Active",
            "integer",
            "A list of pointers to currently running jobs.",
        ),
        c(
            "Last Schedule",
            "string",
            "Information when was the last time the job was successfully scheduled.",
        ),
        AGE,
        wide("Containers", "string", CONTAINERS),
        wide("Images", "string", IMAGES),
        wide(
            "Selector",
            "string",
            "A label query over pods that should match the pod count.",
        ),
    ],
    row: |o, now| {
        let template = &o["spec"]["jobTemplate"]["spec"];
        let (names, images) = containers(&template["template"]["spec"]);
        let last = if o["status"]["lastScheduleTime"].is_string() {
            since(&o["status"]["lastScheduleTime"], now)
        } else {
            "<none>".to_string()
        };
        vec![
            json!(s(o, "/metadata/name")),
            json!(s(o, "/spec/schedule")),
            json!(o["spec"]["timeZone"].as_str().unwrap_or("<none>")),
            json!(bool_ptr(&o["spec"]["suspend"])),
            json!(arr(o, "/status/active").len() as i64),
            json!(last),
            json!(age(o, now)),
            json!(names),
            json!(images),
            json!(format_selector(&template["selector"])),
        ]
    },
};

pub(super) const HPA: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Reference",
            "string",
            "scaleTargetRef points to the target resource to scale.",
        ),
        c(
            "Targets",
            "string",
            "metrics contains the specifications for which to use to calculate the desired replica count.",
        ),
        c(
            "MinPods",
            "string",
            "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
        ),
        c(
            "MaxPods",
            "string",
            "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
        ),
        c(
            "Replicas",
            "string",
            "currentReplicas is current number of replicas of pods managed by this autoscaler.",
        ),
        AGE,
    ],
    row: |o, now| {
        let reference = format!(
            "{}/{}",
            s(o, "/spec/scaleTargetRef/kind"),
            s(o, "/spec/scaleTargetRef/name")
        );
        let min = o["spec"]["minReplicas"]
            .as_i64()
            .map_or("<unset>".to_string(), |m| m.to_string());
        vec![
            json!(s(o, "/metadata/name")),
            json!(reference),
            json!(hpa_metrics(
                arr(o, "/spec/metrics"),
                arr(o, "/status/currentMetrics")
            )),
            json!(min),
            json!(i(o, "/spec/maxReplicas")),
            json!(i(o, "/status/currentReplicas")),
            json!(age(o, now)),
        ]
    },
};

/// A quantity as printed (`<nil>` for a missing pointer, as Go prints it).
fn quantity(v: &Value) -> String {
    int_or_string(v).unwrap_or_else(|| "<nil>".to_string())
}

/// `formatHPAMetrics` for autoscaling/v2 metric specs and statuses.
fn hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let mut list: Vec<String> = Vec::new();
    for (idx, spec) in specs.iter().enumerate() {
        let status = statuses.get(idx);
        let source = |key: &str| status.map(|st| &st[key]).filter(|v| v.is_object());
        let text = match spec["type"].as_str().unwrap_or("") {
            ty @ ("External" | "Object") => {
                let key = if ty == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = &spec[key]["target"];
                if !target["averageValue"].is_null() {
                    let current = source(key)
                        .and_then(|s| int_or_string(&s["current"]["averageValue"]))
                        .unwrap_or_else(|| "<unknown>".to_string());
                    format!("{current}/{} (avg)", quantity(&target["averageValue"]))
                } else {
                    let current = source(key).map_or("<unknown>".to_string(), |s| {
                        quantity(&s["current"]["value"])
                    });
                    format!("{current}/{}", quantity(&target["value"]))
                }
            }
            "Pods" => {
                let current = source("pods").map_or("<unknown>".to_string(), |s| {
                    quantity(&s["current"]["averageValue"])
                });
                format!(
                    "{current}/{}",
                    quantity(&spec["pods"]["target"]["averageValue"])
                )
            }
            ty @ ("Resource" | "ContainerResource") => {
                let key = if ty == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let res = &spec[key];
                let name = res["name"].as_str().unwrap_or("");
                if !res["target"]["averageValue"].is_null() {
                    let current = source(key).map_or("<unknown>".to_string(), |s| {
                        quantity(&s["current"]["averageValue"])
                    });
                    format!(
                        "{name}: {current}/{}",
                        quantity(&res["target"]["averageValue"])
                    )
                } else {
                    let current = source(key)
                        .and_then(|s| s["current"]["averageUtilization"].as_i64())
                        .map_or("<unknown>".to_string(), |u| format!("{u}%"));
                    let target = res["target"]["averageUtilization"]
                        .as_i64()
                        .map_or("<auto>".to_string(), |u| format!("{u}%"));
                    format!("{name}: {current}/{target}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(text);
    }
    const MAX: usize = 2;
    let count = list.len();
    if count > MAX {
        list.truncate(MAX);
        return format!("{} + {} more...", list.join(", "), count - MAX);
    }
    list.join(", ")
}

pub(super) const PDB: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Min Available",
            "string",
            "The minimum number of pods that must be available.",
        ),
        c(
            "Max Unavailable",
            "string",
            "The maximum number of pods that may be unavailable.",
        ),
        c(
            "Allowed Disruptions",
            "integer",
            "Calculated number of pods that may be disrupted at this time.",
        ),
        AGE,
    ],
    row: |o, now| {
        let na = || "N/A".to_string();
        vec![
            json!(s(o, "/metadata/name")),
            json!(int_or_string(&o["spec"]["minAvailable"]).unwrap_or_else(na)),
            json!(int_or_string(&o["spec"]["maxUnavailable"]).unwrap_or_else(na)),
            json!(i(o, "/status/disruptionsAllowed")),
            json!(age(o, now)),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        parse_time("2024-01-02T00:00:00Z").unwrap()
    }

    #[test]
    fn deployment_row() {
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}, {"name": "side", "image": "busybox"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        assert_eq!(
            (DEPLOYMENT.row)(&d, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("24h"),
                json!("nginx,side"),
                json!("nginx:1.25,busybox"),
                json!("app=web")
            ]
        );
        assert_eq!(DEPLOYMENT.columns.len(), 8);
    }

    #[test]
    fn job_and_cronjob_rows() {
        let j = json!({"metadata": {"name": "once"}, "spec": {"completions": 1, "template": {"spec": {"containers": []}}},
            "status": {"succeeded": 1, "startTime": "2024-01-01T00:00:00Z", "completionTime": "2024-01-01T00:00:42Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}});
        let row = job_row(&j, now());
        assert_eq!(
            (row[1].clone(), row[2].clone(), row[3].clone()),
            (json!("Complete"), json!("1/1"), json!("42s"))
        );
        let cj = json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 1 * * *", "suspend": false,
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}}});
        assert_eq!(
            (CRON_JOB.row)(&cj, now())[..6],
            [
                json!("nightly"),
                json!("0 1 * * *"),
                json!("<none>"),
                json!("False"),
                json!(0),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn hpa_targets() {
        let specs = vec![
            json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}),
            json!({"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}),
        ];
        assert_eq!(
            hpa_metrics(&specs, &[]),
            "cpu: <unknown>/80%, memory: <unknown>/100Mi"
        );
        let statuses = vec![
            json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35}}}),
        ];
        assert_eq!(hpa_metrics(&specs[..1], &statuses), "cpu: 35%/80%");
        let three = vec![specs[0].clone(), specs[0].clone(), specs[0].clone()];
        assert_eq!(
            hpa_metrics(&three, &[]),
            "cpu: <unknown>/80%, cpu: <unknown>/80% + 1 more..."
        );
        assert_eq!(hpa_metrics(&[], &[]), "<none>");
    }

    #[test]
    fn pdb_row() {
        let p = json!({"metadata": {"name": "p"}, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            (PDB.row)(&p, now())[1..4],
            [json!("50%"), json!("N/A"), json!(1)]
        );
    }
}

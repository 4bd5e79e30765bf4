//! Checks the SAM template (template.yaml): least-privilege IAM (start/stop only on resources
//! with the schedule tag key, DynamoDB only on the stack's tables, no wildcard actions), the
//! tables, the scheduler's concurrency and failure handling, and the env the binary reads.
//! The same IAM checks run on the template as written and as rendered by aws-sam-translator.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use offhours::ports::Settings;
use serde_json::{json, Map, Value};

const START_STOP: [&str; 10] = [
    "ec2:StartInstances",
    "ec2:StopInstances",
    "rds:StartDBInstance",
    "rds:StopDBInstance",
    "rds:StartDBCluster",
    "rds:StopDBCluster",
    "ecs:UpdateService",
    "ecs:TagResource",
    "autoscaling:UpdateAutoScalingGroup",
    "autoscaling:CreateOrUpdateTags",
];
/// The read calls that cannot be scoped to tagged resources (Resource "*").
const DESCRIBE: [&str; 7] = [
    "ec2:DescribeInstances",
    "rds:DescribeDBInstances",
    "rds:DescribeDBClusters",
    "ecs:ListClusters",
    "ecs:ListServices",
    "ecs:DescribeServices",
    "autoscaling:DescribeAutoScalingGroups",
];
const REGION: &str = "ap-northeast-2";
const ACCOUNT: &str = "123456789012";
const STACK: &str = "offhours";

// ------------------------------------------------------------------ loading

fn template_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml")
}

/// template.yaml as JSON, short-form tags (`!Ref`, `!Sub`, ...) turned into their long forms.
fn load_template() -> Value {
    let text = std::fs::read_to_string(template_path()).expect("template.yaml is readable");
    let yaml: serde_norway::Value = serde_norway::from_str(&text).expect("template.yaml parses");
    yaml_to_json(yaml)
}

fn yaml_to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else {
                json!(n.as_f64().expect("a finite number"))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_norway::to_string(&other).unwrap().trim().to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = yaml_to_json(tagged.value);
            match name {
                "Ref" => json!({ "Ref": value }),
                "Condition" => json!({ "Condition": value }),
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (res, attr) = s.split_once('.').expect("!GetAtt Resource.Attribute");
                        json!({ "Fn::GetAtt": [res, attr] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                other => json!({ format!("Fn::{other}"): value }),
            }
        }
    }
}

/// The Python that has samtranslator: the project's `.venv/bin/python3` (made by
/// `bash scripts/test.sh`) when it exists, else `python3` from PATH.
fn python() -> std::path::PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// The template as aws-sam-translator renders it to plain CloudFormation, or `None` when
/// python3 with samtranslator is not available (then the test says so on stderr; under CI it
/// fails).
fn render_with_samtranslator() -> Option<Value> {
    const SCRIPT: &str = r#"
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    # The loader maps AWS managed policy *names* in Policies to ARNs; offline there is no IAM
    # to ask, and the template uses none, so an empty map is exact.
    def load(self):
        return {}

template = yaml_parse(open(sys.argv[1]).read())
# Local CodeUri is rewritten by `sam package`; the translator needs an S3 location.
template["Globals"]["Function"]["CodeUri"] = "s3://offhours-artifacts/bootstrap.zip"
print(json.dumps(transform(template, {}, NoManagedPolicies())))
"#;
    let python = python();
    let out = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(template_path())
        .env("AWS_DEFAULT_REGION", REGION)
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => return unavailable(&format!("{} cannot run: {e}", python.display())),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stderr.contains("No module named 'samtranslator'") {
            return unavailable(&format!("{} has no samtranslator", python.display()));
        }
        panic!("aws-sam-translator rejected template.yaml:\n{stderr}");
    }
    Some(serde_json::from_slice(&out.stdout).expect("the translator prints JSON"))
}

fn unavailable(why: &str) -> Option<Value> {
    assert!(
        std::env::var_os("CI").is_none(),
        "the SAM rendering check must run in CI: {why}"
    );
    eprintln!(
        "skipping the SAM rendering check: {why}. `bash scripts/test.sh` creates .venv/ \
         with it (aws-sam-cli from requirements-dev.txt)"
    );
    None
}

// ------------------------------------------------------------------ evaluation

/// Parameter values for one evaluation; everything else takes the template default.
fn params(overrides: &[(&str, &str)]) -> HashMap<String, String> {
    overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Evaluates the CloudFormation intrinsics of a template the way CloudFormation would for
/// the given parameters, in a fixed region/account/stack. Resource attributes become
/// recognisable stand-ins: a table's `Arn` is its real ARN shape, other `GetAtt`s become
/// `Logical.Attr`, and `Ref` to a resource is its name (tables) or logical id.
struct Evaluator<'a> {
    template: &'a Value,
    params: HashMap<String, String>,
}

impl<'a> Evaluator<'a> {
    fn new(template: &'a Value, overrides: &HashMap<String, String>) -> Self {
        let mut params = HashMap::new();
        if let Some(declared) = template["Parameters"].as_object() {
            for (name, decl) in declared {
                let value = overrides
                    .get(name)
                    .cloned()
                    .or_else(|| decl.get("Default").map(scalar))
                    .unwrap_or_else(|| panic!("parameter {name} has no default and no value"));
                params.insert(name.clone(), value);
            }
        }
        for name in overrides.keys() {
            assert!(params.contains_key(name), "no parameter {name} in template");
        }
        let pseudo = [
            ("AWS::Region", REGION),
            ("AWS::AccountId", ACCOUNT),
            ("AWS::Partition", "aws"),
            ("AWS::StackName", STACK),
            ("AWS::URLSuffix", "amazonaws.com"),
        ];
        for (k, v) in pseudo {
            params.insert(k.to_string(), v.to_string());
        }
        Self { template, params }
    }

    fn resources(&self) -> &Map<String, Value> {
        self.template["Resources"].as_object().expect("Resources")
    }

    fn condition(&self, name: &str) -> bool {
        let cond = &self.template["Conditions"][name];
        assert!(!cond.is_null(), "no condition {name}");
        self.truth(cond)
    }

    fn truth(&self, v: &Value) -> bool {
        let (op, arg) = single(v).unwrap_or_else(|| panic!("not a condition: {v}"));
        let args = arg.as_array();
        match op {
            "Condition" => self.condition(arg.as_str().expect("condition name")),
            "Fn::Not" => !self.truth(&args.expect("Fn::Not list")[0]),
            "Fn::And" => args.expect("Fn::And list").iter().all(|c| self.truth(c)),
            "Fn::Or" => args.expect("Fn::Or list").iter().any(|c| self.truth(c)),
            "Fn::Equals" => {
                let a = args.expect("Fn::Equals list");
                self.eval(&a[0]) == self.eval(&a[1])
            }
            other => panic!("unsupported condition function {other}"),
        }
    }

    fn reference(&self, name: &str) -> Value {
        if let Some(p) = self.params.get(name) {
            return Value::String(p.clone());
        }
        let Some(res) = self.resources().get(name) else {
            assert!(self.sam_generated(name), "Ref to unknown {name}");
            return Value::String(name.to_string());
        };
        if res["Type"] == "AWS::DynamoDB::Table" {
            self.eval(&res["Properties"]["TableName"])
                .unwrap_or_else(|| panic!("table {name} has a TableName"))
        } else {
            Value::String(name.to_string())
        }
    }

    /// Resources SAM generates from a function (`<Function>Role`, `<Function>Url`,
    /// `<Function><Event>`), which the written template may refer to.
    fn sam_generated(&self, name: &str) -> bool {
        self.resources().iter().any(|(id, r)| {
            r["Type"] == "AWS::Serverless::Function"
                && name.len() > id.len()
                && name.starts_with(id)
        })
    }

    fn get_att(&self, name: &str, attr: &str) -> String {
        let res = self.resources().get(name);
        assert!(
            res.is_some() || self.sam_generated(name),
            "GetAtt of unknown {name}"
        );
        if attr == "Arn" && res.is_some_and(|r| r["Type"] == "AWS::DynamoDB::Table") {
            let table = self.reference(name);
            let table = table.as_str().expect("table name");
            format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}")
        } else {
            format!("{name}.{attr}")
        }
    }

    fn sub(&self, text: &str, vars: &HashMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closing } in Fn::Sub") + start;
            let name = &rest[start + 2..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                out.push_str(v);
            } else if let Some((res, attr)) = name.split_once('.') {
                out.push_str(&self.get_att(res, attr));
            } else {
                out.push_str(&scalar(&self.reference(name)));
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// `None` is `AWS::NoValue`: the key or list item disappears.
    fn eval(&self, v: &Value) -> Option<Value> {
        match v {
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|i| self.eval(i)).collect(),
            )),
            Value::Object(map) => {
                if let Some((op, arg)) = single(v) {
                    if op == "Ref" || op == "Condition" || op.starts_with("Fn::") {
                        return self.function(op, arg);
                    }
                }
                Some(Value::Object(
                    map.iter()
                        .filter_map(|(k, v)| self.eval(v).map(|v| (k.clone(), v)))
                        .collect(),
                ))
            }
            other => Some(other.clone()),
        }
    }

    fn function(&self, op: &str, arg: &Value) -> Option<Value> {
        let list = || {
            arg.as_array()
                .unwrap_or_else(|| panic!("{op} takes a list"))
        };
        let text = |v: &Value| scalar(&self.eval(v).expect("a value"));
        Some(match op {
            "Ref" if arg == "AWS::NoValue" => return None,
            "Ref" => self.reference(arg.as_str().expect("Ref name")),
            "Condition" => Value::Bool(self.condition(arg.as_str().expect("condition name"))),
            "Fn::GetAtt" => {
                let l = list();
                Value::String(self.get_att(l[0].as_str().unwrap(), l[1].as_str().unwrap()))
            }
            "Fn::If" => {
                let l = list();
                let branch = if self.condition(l[0].as_str().expect("condition")) {
                    &l[1]
                } else {
                    &l[2]
                };
                return self.eval(branch);
            }
            "Fn::Sub" => match arg {
                Value::String(s) => Value::String(self.sub(s, &HashMap::new())),
                Value::Array(l) => {
                    let vars = l[1]
                        .as_object()
                        .expect("Fn::Sub variables")
                        .iter()
                        .map(|(k, v)| (k.clone(), text(v)))
                        .collect();
                    Value::String(self.sub(l[0].as_str().expect("Fn::Sub text"), &vars))
                }
                other => panic!("bad Fn::Sub {other}"),
            },
            "Fn::Join" => {
                let l = list();
                let parts = self.eval(&l[1]).expect("Fn::Join list");
                let parts: Vec<String> = parts.as_array().unwrap().iter().map(scalar).collect();
                Value::String(parts.join(l[0].as_str().expect("separator")))
            }
            "Fn::Split" => {
                let l = list();
                let whole = text(&l[1]);
                let sep = l[0].as_str().expect("separator");
                Value::Array(whole.split(sep).map(|s| json!(s)).collect())
            }
            "Fn::Select" => {
                let l = list();
                let i: usize = text(&l[0]).parse().expect("index");
                self.eval(&l[1]).expect("list")[i].clone()
            }
            other => panic!("unsupported intrinsic {other}"),
        })
    }

    /// The template with Globals, Resources and Outputs evaluated (Conditions and
    /// Parameters are inputs to the evaluation and stay as written).
    fn render(&self) -> Value {
        let mut out = self.template.as_object().expect("a template").clone();
        for section in ["Globals", "Resources", "Outputs"] {
            if let Some(v) = self.template.get(section) {
                out.insert(section.to_string(), self.eval(v).expect(section));
            }
        }
        Value::Object(out)
    }
}

/// `{"Fn::X": arg}` -> `("Fn::X", arg)`.
fn single(v: &Value) -> Option<(&str, &Value)> {
    let map = v.as_object()?;
    (map.len() == 1).then(|| map.iter().next().map(|(k, v)| (k.as_str(), v)))?
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other}"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Null => vec![],
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => vec![scalar(other)],
    }
}

// ------------------------------------------------------------------ IAM model

#[derive(Debug, Clone)]
struct Statement {
    /// Where it came from, for messages: resource logical id and Sid.
    origin: String,
    effect: String,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Value,
    raw: Value,
}

fn parse_document(origin: &str, doc: &Value) -> Vec<Statement> {
    let doc = match doc {
        // A policy that needs a parameter in a condition key is a JSON string (Fn::Sub).
        Value::String(s) => serde_json::from_str(s)
            .unwrap_or_else(|e| panic!("{origin}: policy string is not JSON: {e}\n{s}")),
        other => other.clone(),
    };
    let list = match &doc["Statement"] {
        Value::Array(l) => l.clone(),
        Value::Object(_) => vec![doc["Statement"].clone()],
        other => panic!("{origin}: no Statement in {other}"),
    };
    list.into_iter()
        .map(|s| Statement {
            origin: format!("{origin}/{}", s["Sid"].as_str().unwrap_or("-")),
            effect: s["Effect"].as_str().expect("Effect").to_string(),
            actions: strings(&s["Action"]),
            resources: strings(&s["Resource"]),
            condition: s.get("Condition").cloned().unwrap_or(Value::Null),
            raw: s,
        })
        .collect()
}

/// Every policy statement in a rendered template, wherever it lives.
fn all_statements(t: &Value) -> Vec<Statement> {
    let mut out = vec![];
    for (id, res) in t["Resources"].as_object().unwrap() {
        let props = &res["Properties"];
        match res["Type"].as_str().unwrap() {
            "AWS::Serverless::Function" => {
                for p in props["Policies"].as_array().into_iter().flatten() {
                    if p.is_object() {
                        out.extend(parse_document(id, p));
                    }
                }
            }
            "AWS::IAM::Role" => {
                for p in props["Policies"].as_array().into_iter().flatten() {
                    out.extend(parse_document(id, &p["PolicyDocument"]));
                }
            }
            "AWS::IAM::ManagedPolicy" | "AWS::IAM::Policy" | "AWS::IAM::RolePolicy" => {
                out.extend(parse_document(id, &props["PolicyDocument"]));
            }
            _ => {}
        }
    }
    out
}

/// The statements each function's role holds, by function logical id. Every function has
/// a role written in the template (no SAM-generated role, no AWS managed policy).
fn function_statements(t: &Value) -> BTreeMap<String, Vec<Statement>> {
    let resources = t["Resources"].as_object().unwrap();
    let mut by_function = BTreeMap::new();
    for (id, res) in resources {
        let props = &res["Properties"];
        if !["AWS::Serverless::Function", "AWS::Lambda::Function"]
            .contains(&res["Type"].as_str().unwrap())
        {
            continue;
        }
        assert!(
            props.get("Policies").is_none(),
            "{id}: permissions belong on its role, not in Policies (SAM would generate a role)"
        );
        let role = props["Role"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no Role"));
        let role = role.strip_suffix(".Arn").expect("Role is a GetAtt Arn");
        let role_res = &resources[role];
        assert_eq!(role_res["Type"], "AWS::IAM::Role", "{id}: {role}");
        let role_props = &role_res["Properties"];
        let mut out = vec![];
        for p in role_props["Policies"].as_array().into_iter().flatten() {
            out.extend(parse_document(role, &p["PolicyDocument"]));
        }
        for arn in strings(&role_props["ManagedPolicyArns"]) {
            let policy = resources
                .get(&arn)
                .unwrap_or_else(|| panic!("{id}: managed policy {arn} is not from this template"));
            assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy", "{id}: {arn}");
            out.extend(parse_document(
                &arn,
                &policy["Properties"]["PolicyDocument"],
            ));
        }
        by_function.insert(id.clone(), out);
    }
    by_function
}

fn is_start_stop(action: &str) -> bool {
    START_STOP.iter().any(|a| a.eq_ignore_ascii_case(action))
}

/// The condition on the schedule tag key: `StringLike {"aws:ResourceTag/<key>": "*"}`, or
/// for a statement of Auto Scaling actions only, the key Auto Scaling documents for them,
/// `autoscaling:ResourceTag/<key>`.
fn has_tag_condition(s: &Statement, tag_key: &str) -> bool {
    let global = format!("aws:ResourceTag/{tag_key}");
    let auto_scaling = format!("autoscaling:ResourceTag/{tag_key}");
    let only_auto_scaling = s.actions.iter().all(|a| a.starts_with("autoscaling:"));
    s.condition["StringLike"][&global] == "*"
        || (only_auto_scaling && s.condition["StringLike"][&auto_scaling] == "*")
}

/// The regions a statement is limited to by `aws:RequestedRegion`, if any.
fn requested_regions(s: &Statement) -> Option<BTreeSet<String>> {
    let v = s.condition["StringEquals"].get("aws:RequestedRegion")?;
    Some(strings(v).into_iter().collect())
}

/// Checks every IAM rule of the brief on one rendered template.
fn check_iam(t: &Value, tag_key: &str, regions: &[&str], table_arns: &BTreeSet<String>) {
    let all = all_statements(t);
    assert!(!all.is_empty(), "no policy statements found");
    let regions: BTreeSet<String> = regions.iter().map(|r| r.to_string()).collect();

    for s in &all {
        // No wildcard actions, no inverted statements.
        for a in &s.actions {
            assert!(!a.contains('*'), "{}: wildcard action {a}", s.origin);
        }
        for inverted in ["NotAction", "NotResource"] {
            assert!(s.raw.get(inverted).is_none(), "{}: {inverted}", s.origin);
        }
        // Start/stop only with the tag condition, only on instance/db/cluster ARNs.
        if s.actions.iter().any(|a| is_start_stop(a)) {
            assert_eq!(s.effect, "Allow", "{}", s.origin);
            assert!(
                has_tag_condition(s, tag_key),
                "{}: start/stop without the aws:ResourceTag/{tag_key} condition (for Auto Scaling, autoscaling:ResourceTag/{tag_key}): {}",
                s.origin,
                s.condition
            );
            for r in &s.resources {
                assert!(
                    r.starts_with(&format!("arn:aws:ec2:*:{ACCOUNT}:instance/"))
                        || r.starts_with(&format!("arn:aws:rds:*:{ACCOUNT}:db:"))
                        || r.starts_with(&format!("arn:aws:rds:*:{ACCOUNT}:cluster:"))
                        || r.starts_with(&format!("arn:aws:ecs:*:{ACCOUNT}:service/"))
                        || r.starts_with(&format!(
                            "arn:aws:autoscaling:*:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/"
                        )),
                    "{}: start/stop on {r}",
                    s.origin
                );
            }
        }
        // EC2, RDS, ECS and Auto Scaling calls only in the configured regions.
        if s.actions.iter().any(|a| {
            ["ec2:", "rds:", "ecs:", "autoscaling:"]
                .iter()
                .any(|p| a.starts_with(p))
        }) {
            assert_eq!(
                requested_regions(s).as_ref(),
                Some(&regions),
                "{}: EC2/RDS/ECS/Auto Scaling calls must be limited to the configured regions",
                s.origin
            );
        }
        // DynamoDB only on this stack's tables (no indexes, streams or other tables).
        if s.actions.iter().any(|a| a.starts_with("dynamodb:")) {
            assert!(
                s.actions.iter().all(|a| a.starts_with("dynamodb:")),
                "{}: keep DynamoDB statements separate",
                s.origin
            );
            assert!(!s.resources.is_empty(), "{}: no Resource", s.origin);
            for r in &s.resources {
                assert!(table_arns.contains(r), "{}: DynamoDB on {r}", s.origin);
            }
        }
        // Logs only on the stack's own log groups, never CreateLogGroup (the stack makes them).
        if s.actions.iter().any(|a| a.starts_with("logs:")) {
            assert_eq!(
                set(&s.actions.iter().map(String::as_str).collect::<Vec<_>>()),
                set(&["logs:CreateLogStream", "logs:PutLogEvents"]),
                "{}",
                s.origin
            );
            for r in &s.resources {
                assert!(
                    [log_group_arn("scheduler"), log_group_arn("chat")].contains(r),
                    "{}: logs on {r}",
                    s.origin
                );
            }
        }
        // KMS only through a named service, on named keys.
        if s.actions.iter().any(|a| a.starts_with("kms:")) {
            assert!(
                s.condition["StringEquals"].get("kms:ViaService").is_some(),
                "{}: KMS without kms:ViaService",
                s.origin
            );
            assert!(
                s.resources
                    .iter()
                    .all(|r| r.starts_with("arn:aws:kms:") && r.contains(":key/")),
                "{}: KMS on {:?}",
                s.origin,
                s.resources
            );
        }
        // SSM: GetParameter on named parameters only.
        if s.actions.iter().any(|a| a.starts_with("ssm:")) {
            assert_eq!(s.actions, ["ssm:GetParameter"], "{}", s.origin);
            for r in &s.resources {
                assert!(
                    r.starts_with(&format!("arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/"))
                        && !r.contains('*'),
                    "{}: ssm on {r}",
                    s.origin
                );
            }
        }
        // EventBridge: PutEvents on named buses only.
        if s.actions.iter().any(|a| a.starts_with("events:")) {
            assert_eq!(s.actions, ["events:PutEvents"], "{}", s.origin);
            assert!(
                !s.resources.is_empty()
                    && s.resources.iter().all(|r| r.starts_with("arn:aws:events:")
                        && r.contains(":event-bus/")
                        && !r.contains('*')),
                "{}: events on {:?}",
                s.origin,
                s.resources
            );
        }
        // STS: AssumeRole on the spoke roles only (named, in any account).
        if s.actions.iter().any(|a| a.starts_with("sts:")) {
            assert_eq!(s.actions, ["sts:AssumeRole"], "{}", s.origin);
            assert!(
                !s.resources.is_empty()
                    && s.resources
                        .iter()
                        .all(|r| r.starts_with("arn:aws:iam::*:role/")
                            && !r.ends_with('*')
                            && !r.ends_with('/')),
                "{}: sts on {:?}",
                s.origin,
                s.resources
            );
        }
        // Resource "*" only for the Describe calls that cannot be scoped.
        if s.resources.iter().any(|r| r == "*") {
            for a in &s.actions {
                assert!(
                    DESCRIBE.contains(&a.as_str()),
                    "{}: {a} on Resource *",
                    s.origin
                );
            }
        }
    }

    // The scheduler really holds all six start/stop actions (so the checks above are not
    // vacuous), and the chat function holds none.
    let by_function = function_statements(t);
    let scheduler = &by_function["SchedulerFunction"];
    for action in START_STOP {
        assert!(
            scheduler.iter().any(|s| s.effect == "Allow"
                && s.actions.iter().any(|a| a == action)
                && has_tag_condition(s, tag_key)),
            "scheduler cannot {action} on tagged resources"
        );
    }
    for action in DESCRIBE {
        assert!(
            scheduler
                .iter()
                .any(|s| s.actions.iter().any(|a| a == action)),
            "scheduler cannot {action}"
        );
    }
    // The desired-count tag (ECS) and the saved-size tag (Auto Scaling) are the only tags
    // the scheduler may write.
    let tagging = [
        ("ecs:TagResource", "offhours:desired-count"),
        ("autoscaling:CreateOrUpdateTags", "offhours:saved-size"),
    ];
    for (action, key) in tagging {
        for s in scheduler
            .iter()
            .filter(|s| s.actions.iter().any(|a| a == action))
        {
            assert_eq!(s.actions, [action], "{}", s.origin);
            assert_eq!(
                strings(&s.condition["ForAllValues:StringEquals"]["aws:TagKeys"]),
                [key],
                "{}: {action} must be limited to the tag {key}",
                s.origin
            );
        }
    }
    let chat = &by_function["ChatFunction"];
    for s in chat {
        for a in &s.actions {
            assert!(!is_start_stop(a), "chat function may {a} ({})", s.origin);
            // (a spoke role may start and stop: the chat function never enters one)
            assert!(
                !a.starts_with("sts:"),
                "chat function may {a} ({})",
                s.origin
            );
        }
    }
}

/// The ARNs of the template's DynamoDB tables, as the evaluator renders them.
fn table_arns(rendered: &Value) -> BTreeSet<String> {
    rendered["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::DynamoDB::Table")
        .map(|r| {
            let name = r["Properties"]["TableName"].as_str().expect("TableName");
            format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")
        })
        .collect()
}

/// The ARN of a function's log group (`scheduler` or `chat`), streams included.
fn log_group_arn(function: &str) -> String {
    format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{STACK}-{function}:*")
}

fn actions_on(statements: &[Statement], table_arn: &str) -> BTreeSet<String> {
    statements
        .iter()
        .filter(|s| s.effect == "Allow" && s.resources.iter().any(|r| r == table_arn))
        .flat_map(|s| s.actions.clone())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Cases of parameter values the IAM checks run under: (overrides, tag key, regions).
fn iam_cases() -> Vec<(HashMap<String, String>, &'static str, Vec<&'static str>)> {
    vec![
        (params(&[]), "ScheduleName", vec![REGION]),
        (
            params(&[
                ("ScheduleTagKey", "team:offhours"),
                ("Regions", "eu-west-1,us-east-1"),
            ]),
            "team:offhours",
            vec!["eu-west-1", "us-east-1"],
        ),
        (params(EVERY_OPTION), "ScheduleName", vec![REGION]),
    ]
}

/// Every optional parameter that adds a statement, set.
const EVERY_OPTION: &[(&str, &str)] = &[
    ("WebhookUrlParameter", "/offhours/webhook-url"),
    (
        "SlackSigningSecretParameter",
        "/offhours/slack-signing-secret",
    ),
    ("JandiTokenParameter", "/offhours/jandi-token"),
    ("SecretsKmsKeyArn", SECRETS_KEY),
    ("EbsKmsKeyArns", EBS_KEYS),
    ("EventBus", "ops-events"),
    ("Accounts", "self,210987654321"),
];
const SECRETS_KEY: &str = "arn:aws:kms:ap-northeast-2:123456789012:key/secrets-0001";
const EBS_KEYS: &str = "arn:aws:kms:ap-northeast-2:123456789012:key/ebs-0001,arn:aws:kms:ap-northeast-2:123456789012:key/ebs-0002";

// ------------------------------------------------------------------ tests

#[test]
fn start_stop_needs_the_schedule_tag_and_dynamodb_only_reaches_the_stack_tables() {
    // GIVEN the template as written
    let template = load_template();
    for (overrides, tag_key, regions) in iam_cases() {
        // WHEN CloudFormation would evaluate it with these parameters
        let rendered = Evaluator::new(&template, &overrides).render();
        // THEN every IAM rule holds
        check_iam(&rendered, tag_key, &regions, &table_arns(&rendered));
    }
}

#[test]
fn sam_rendered_template_keeps_the_tag_condition() {
    // GIVEN the template rendered to CloudFormation by aws-sam-translator (the generated
    // roles, managed policy attachments and destination policies are what gets deployed)
    let Some(rendered_by_sam) = render_with_samtranslator() else {
        return;
    };
    let resources = rendered_by_sam["Resources"].as_object().unwrap();
    for generated in ["SchedulerFunctionRole", "ChatFunctionRole"] {
        assert!(
            !resources.contains_key(generated),
            "SAM generated {generated} (with logs on every log group)"
        );
    }
    for (overrides, tag_key, regions) in iam_cases() {
        // WHEN its remaining intrinsics are evaluated
        let rendered = Evaluator::new(&rendered_by_sam, &overrides).render();
        // THEN the same IAM rules hold, and no role holds an AWS managed policy
        check_iam(&rendered, tag_key, &regions, &table_arns(&rendered));
        for (id, res) in rendered["Resources"].as_object().unwrap() {
            if res["Type"] == "AWS::IAM::Role" {
                for arn in strings(&res["Properties"]["ManagedPolicyArns"]) {
                    assert!(!arn.starts_with("arn:aws:iam::aws:"), "{id}: {arn}");
                }
            }
        }
        let scheduler = &function_statements(&rendered)["SchedulerFunction"];
        let sqs: Vec<&Statement> = scheduler
            .iter()
            .filter(|s| s.actions.iter().any(|a| a.starts_with("sqs:")))
            .collect();
        assert_eq!(
            sqs.len(),
            1,
            "one SQS statement for the failure destination"
        );
        assert_eq!(sqs[0].actions, ["sqs:SendMessage"]);
        assert_eq!(sqs[0].resources, ["SchedulerDeadLetterQueue.Arn"]);
        let fun = &rendered["Resources"]["SchedulerFunction"]["Properties"];
        assert_eq!(fun["ReservedConcurrentExecutions"], 1);
        let chat = &rendered["Resources"]["ChatFunction"]["Properties"];
        assert_eq!(scalar(&chat["ReservedConcurrentExecutions"]), "5");
    }
}

/// Every DynamoDB call the code makes (src/aws/store.rs), per function:
/// scheduler: Scan of the three config tables (load_config), UpdateItem on Schedule
/// (clear_force), BatchGetItem (load_states_of), GetItem (lease_until, is_marked), PutItem
/// (save_state, acquire_lease, mark) and DeleteItem (release_lease) on the state table;
/// chat: Scan of the config tables, UpdateItem on Schedule (set_force), PutItem and
/// DeleteItem on exceptions (put_exception, delete_exception). Nothing else: no GetItem or
/// Query on the config tables, no Query, Scan or UpdateItem on the state table.
#[test]
fn each_function_gets_only_the_table_actions_the_code_calls() {
    let template = load_template();
    let t = Evaluator::new(&template, &params(&[])).render();
    let by_function = function_statements(&t);
    let arn = |table: &str| format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STACK}-{table}");
    let scan = "dynamodb:Scan";

    let expected = [
        (
            "SchedulerFunction",
            [
                ("Schedule", set(&[scan, "dynamodb:UpdateItem"])),
                ("ScheduleServerGroup", set(&[scan])),
                ("ScheduleException", set(&[scan])),
                (
                    "SchedulerState",
                    set(&[
                        "dynamodb:GetItem",
                        "dynamodb:BatchGetItem",
                        "dynamodb:PutItem",
                        "dynamodb:DeleteItem",
                    ]),
                ),
            ],
        ),
        (
            "ChatFunction",
            [
                ("Schedule", set(&[scan, "dynamodb:UpdateItem"])),
                ("ScheduleServerGroup", set(&[scan])),
                (
                    "ScheduleException",
                    set(&[scan, "dynamodb:PutItem", "dynamodb:DeleteItem"]),
                ),
                // Chat commands only claim their delivery markers (`once#chat#…`, a
                // condition checked in the chat test); never the scheduler's state or lease.
                ("SchedulerState", set(&["dynamodb:PutItem"])),
            ],
        ),
    ];
    for (function, tables) in &expected {
        for (table, actions) in tables {
            assert_eq!(
                &actions_on(&by_function[*function], &arn(table)),
                actions,
                "{function} on {table}"
            );
        }
    }
    let chat = &by_function["ChatFunction"];
    for s in chat
        .iter()
        .filter(|s| s.resources.contains(&arn("SchedulerState")))
    {
        assert_eq!(
            s.condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
            json!(["once#chat#*"]),
            "{}: the chat function writes only its delivery markers",
            s.origin
        );
    }
}

/// `set_force` and `clear_force` write `SET ForceStart/ForceStop` on the item keyed by
/// ScheduleName and ask for no return values: that is all either role may update.
#[test]
fn force_flags_are_the_only_schedule_attributes_either_role_may_update() {
    let template = load_template();
    let t = Evaluator::new(&template, &params(&[])).render();
    let schedule = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STACK}-Schedule");
    for (function, statements) in function_statements(&t) {
        let updates: Vec<&Statement> = statements
            .iter()
            .filter(|s| {
                s.actions.iter().any(|a| a == "dynamodb:UpdateItem")
                    && s.resources.contains(&schedule)
            })
            .collect();
        assert_eq!(updates.len(), 1, "{function}: one UpdateItem statement");
        let c = &updates[0].condition;
        assert_eq!(
            c["ForAllValues:StringEquals"]["dynamodb:Attributes"],
            json!(["ScheduleName", "ForceStart", "ForceStop"]),
            "{function}"
        );
        assert_eq!(
            c["StringEqualsIfExists"]["dynamodb:ReturnValues"],
            json!(["NONE", "UPDATED_OLD", "UPDATED_NEW"]),
            "{function}: ALL_OLD/ALL_NEW would read other attributes"
        );
        assert_eq!(updates[0].actions, ["dynamodb:UpdateItem"], "{function}");
    }
}

/// Each function writes only to its own log group; neither may create log groups.
#[test]
fn each_function_logs_only_to_its_own_log_group() {
    let template = load_template();
    let t = Evaluator::new(&template, &params(&[])).render();
    let by_function = function_statements(&t);
    for (function, group) in [("SchedulerFunction", "scheduler"), ("ChatFunction", "chat")] {
        let logs: Vec<&Statement> = by_function[function]
            .iter()
            .filter(|s| s.actions.iter().any(|a| a.starts_with("logs:")))
            .collect();
        assert_eq!(logs.len(), 1, "{function}");
        assert_eq!(logs[0].resources, [log_group_arn(group)], "{function}");
        let props = &t["Resources"][function]["Properties"];
        let log_group = scalar(&props["LoggingConfig"]["LogGroup"]);
        let name = &t["Resources"][log_group.as_str()]["Properties"]["LogGroupName"];
        assert_eq!(
            name,
            &json!(format!("/aws/lambda/{STACK}-{group}")),
            "{function}"
        );
    }
}

/// Without EbsKmsKeyArns the scheduler has no KMS permission; with it, CreateGrant on
/// exactly those keys, only for AWS resources, only through EC2 in the managed regions.
#[test]
fn ebs_kms_keys_add_create_grant_only_through_ec2() {
    let template = load_template();
    let kms = |overrides: &[(&str, &str)]| -> Vec<Statement> {
        let t = Evaluator::new(&template, &params(overrides)).render();
        function_statements(&t)["SchedulerFunction"]
            .iter()
            .filter(|s| s.actions.iter().any(|a| a.starts_with("kms:")))
            .cloned()
            .collect()
    };
    assert!(kms(&[]).is_empty(), "no keys, no KMS permission");
    let cases = [
        (vec![("EbsKmsKeyArns", EBS_KEYS)], vec![REGION]),
        (
            vec![
                ("EbsKmsKeyArns", EBS_KEYS),
                ("Regions", "eu-west-1,us-east-1"),
            ],
            vec!["eu-west-1", "us-east-1"],
        ),
    ];
    for (overrides, regions) in cases {
        let s = kms(&overrides);
        assert_eq!(s.len(), 1, "{overrides:?}");
        assert_eq!(s[0].actions, ["kms:CreateGrant"]);
        assert_eq!(s[0].resources, EBS_KEYS.split(',').collect::<Vec<_>>());
        assert_eq!(s[0].condition["Bool"]["kms:GrantIsForAWSResource"], true);
        let via: Vec<String> = regions
            .iter()
            .map(|r| format!("ec2.{r}.amazonaws.com"))
            .collect();
        assert_eq!(
            strings(&s[0].condition["StringEquals"]["kms:ViaService"]),
            via,
            "{overrides:?}"
        );
    }
}

/// SSM parameter names give each function GetParameter on exactly its own secrets (the
/// scheduler the webhook URL, chat the Slack secret and JANDI token), and kms:Decrypt
/// through SSM only when a customer managed key is named and that function reads one.
#[test]
fn ssm_secrets_are_readable_only_by_the_function_that_needs_them() {
    let template = load_template();
    let access = |overrides: &[(&str, &str)], function: &str, prefix: &str| -> Vec<String> {
        let t = Evaluator::new(&template, &params(overrides)).render();
        function_statements(&t)[function]
            .iter()
            .filter(|s| s.actions.iter().any(|a| a.starts_with(prefix)))
            .flat_map(|s| s.resources.clone())
            .collect()
    };
    let param = |name: &str| format!("arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}");
    for f in ["SchedulerFunction", "ChatFunction"] {
        assert!(
            access(&[], f, "ssm:").is_empty(),
            "{f}: no parameters, no SSM"
        );
        assert!(access(&[], f, "kms:").is_empty(), "{f}: no key, no KMS");
    }
    assert_eq!(
        access(EVERY_OPTION, "SchedulerFunction", "ssm:"),
        [param("/offhours/webhook-url")]
    );
    assert_eq!(
        access(EVERY_OPTION, "ChatFunction", "ssm:"),
        [
            param("/offhours/slack-signing-secret"),
            param("/offhours/jandi-token")
        ]
    );
    let only_jandi = [("JandiTokenParameter", "/offhours/jandi-token")];
    assert_eq!(
        access(&only_jandi, "ChatFunction", "ssm:"),
        [param("/offhours/jandi-token")]
    );
    assert!(access(&only_jandi, "SchedulerFunction", "ssm:").is_empty());
    for f in ["SchedulerFunction", "ChatFunction"] {
        assert_eq!(access(EVERY_OPTION, f, "kms:Decrypt").len(), 1, "{f}");
    }
    let key_without_parameters = [("SecretsKmsKeyArn", SECRETS_KEY)];
    for f in ["SchedulerFunction", "ChatFunction"] {
        assert!(access(&key_without_parameters, f, "kms:").is_empty(), "{f}");
    }
    let t = Evaluator::new(&template, &params(EVERY_OPTION)).render();
    for s in &function_statements(&t)["ChatFunction"] {
        if s.actions == ["kms:Decrypt"] {
            assert_eq!(s.resources, [SECRETS_KEY]);
            assert_eq!(
                s.condition["StringEquals"]["kms:ViaService"],
                format!("ssm.{REGION}.amazonaws.com")
            );
        }
    }
}

#[test]
fn tables_follow_the_spec_with_pitr_sse_and_on_demand_billing() {
    let template = load_template();
    let t = Evaluator::new(&template, &params(&[])).render();
    // (logical id, table name after the stack prefix, key schema, deletion policy)
    type Keys = &'static [(&'static str, &'static str)];
    let expected: [(&str, &str, Keys, &str); 4] = [
        (
            "ScheduleTable",
            "Schedule",
            &[("ScheduleName", "HASH")],
            "Retain",
        ),
        (
            "GroupTable",
            "ScheduleServerGroup",
            &[("ScheduleName", "HASH"), ("GroupName", "RANGE")],
            "Retain",
        ),
        (
            "ExceptionTable",
            "ScheduleException",
            &[("ExceptionUuid", "HASH")],
            "Retain",
        ),
        ("StateTable", "SchedulerState", &[("Key", "HASH")], "Delete"),
    ];
    let tables: Vec<&String> = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::DynamoDB::Table")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        tables.len(),
        expected.len(),
        "exactly the four tables: {tables:?}"
    );

    for (id, name, keys, deletion) in expected {
        let res = &t["Resources"][id];
        let p = &res["Properties"];
        assert_eq!(p["TableName"], format!("{STACK}-{name}"), "{id}");
        assert_eq!(p["BillingMode"], "PAY_PER_REQUEST", "{id}");
        assert_eq!(
            p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true,
            "{id}: PITR"
        );
        assert_eq!(p["SSESpecification"]["SSEEnabled"], true, "{id}: SSE");
        if id == "StateTable" {
            // The chat once-markers (`Expires`, epoch seconds) expire instead of piling up.
            let ttl = &p["TimeToLiveSpecification"];
            assert_eq!(
                (&ttl["AttributeName"], &ttl["Enabled"]),
                (&"Expires".into(), &true.into()),
                "{id}: TTL"
            );
        }
        let schema: Vec<(String, String)> = p["KeySchema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (scalar(&k["AttributeName"]), scalar(&k["KeyType"])))
            .collect();
        let want: Vec<(String, String)> = keys
            .iter()
            .map(|(a, k)| (a.to_string(), k.to_string()))
            .collect();
        assert_eq!(schema, want, "{id}: key schema");
        let attrs: BTreeMap<String, String> = p["AttributeDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (scalar(&a["AttributeName"]), scalar(&a["AttributeType"])))
            .collect();
        let want: BTreeMap<String, String> = keys
            .iter()
            .map(|(a, _)| (a.to_string(), "S".to_string()))
            .collect();
        assert_eq!(
            attrs, want,
            "{id}: all keys are strings, no other attributes"
        );
        assert_eq!(res["DeletionPolicy"], deletion, "{id}");
        assert_eq!(res["UpdateReplacePolicy"], deletion, "{id}");
    }
}

#[test]
fn scheduler_runs_alone_every_interval_and_failures_are_kept_and_alarmed() {
    let template = load_template();
    let t = Evaluator::new(&template, &params(&[("ScheduleInterval", "10")])).render();
    let res = &t["Resources"];
    let p = &res["SchedulerFunction"]["Properties"];

    assert_eq!(p["ReservedConcurrentExecutions"], 1);
    let timeout = p["Timeout"].as_u64().unwrap();
    assert!(
        (120..=300).contains(&timeout),
        "scheduler timeout {timeout}"
    );
    let max_wait = template["Parameters"]["MaxWaitSeconds"]["MaxValue"]
        .as_u64()
        .unwrap();
    assert!(
        max_wait + 20 <= timeout,
        "MAX_WAIT_SECONDS must fit in the timeout"
    );

    let events = p["Events"].as_object().unwrap();
    assert_eq!(events.len(), 1, "one trigger: the schedule");
    let tick = events.values().next().unwrap();
    assert_eq!(tick["Type"], "Schedule", "an EventBridge scheduled event");
    assert_eq!(tick["Properties"]["Schedule"], "rate(10 minutes)");

    let invoke = &p["EventInvokeConfig"];
    assert_eq!(invoke["MaximumRetryAttempts"], 0);
    let on_failure = &invoke["DestinationConfig"]["OnFailure"];
    assert_eq!(on_failure["Type"], "SQS");
    assert_eq!(on_failure["Destination"], "SchedulerDeadLetterQueue.Arn");
    assert_eq!(res["SchedulerDeadLetterQueue"]["Type"], "AWS::SQS::Queue");
    assert_eq!(
        res["SchedulerDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"],
        true
    );

    let errors_alarm = res
        .as_object()
        .unwrap()
        .values()
        .find(|r| {
            r["Type"] == "AWS::CloudWatch::Alarm"
                && r["Properties"]["MetricName"] == "Errors"
                && r["Properties"]["Namespace"] == "AWS/Lambda"
        })
        .expect("an alarm on the scheduler's Errors metric");
    let ap = &errors_alarm["Properties"];
    assert_eq!(ap["Dimensions"][0]["Name"], "FunctionName");
    assert_eq!(ap["Dimensions"][0]["Value"], "SchedulerFunction");
    assert_eq!(ap["Threshold"], 1);
    assert!(
        ap.get("AlarmActions").is_none(),
        "no topic given, no actions"
    );

    let with_topic = params(&[(
        "AlarmTopicArn",
        "arn:aws:sns:ap-northeast-2:123456789012:ops",
    )]);
    let t = Evaluator::new(&template, &with_topic).render();
    assert_eq!(
        t["Resources"]["SchedulerErrorsAlarm"]["Properties"]["AlarmActions"],
        json!(["arn:aws:sns:ap-northeast-2:123456789012:ops"])
    );
}

#[test]
fn chat_commands_come_through_a_public_function_url_on_their_own_function() {
    let template = load_template();
    let t = Evaluator::new(&template, &params(&[])).render();
    let chat = &t["Resources"]["ChatFunction"]["Properties"];
    assert_eq!(chat["FunctionUrlConfig"]["AuthType"], "NONE");
    assert!(chat.get("Events").is_none(), "chat is not scheduled");
    assert!(
        chat["Timeout"].as_u64().unwrap() <= 15,
        "chat answers quickly (Slack waits 3 s)"
    );
    // A flood on the public URL is throttled at its own small reservation.
    assert_eq!(scalar(&chat["ReservedConcurrentExecutions"]), "5");
    let t = Evaluator::new(&template, &params(&[("ChatReservedConcurrency", "2")])).render();
    let chat = &t["Resources"]["ChatFunction"]["Properties"];
    assert_eq!(scalar(&chat["ReservedConcurrentExecutions"]), "2");
    let env = &chat["Environment"]["Variables"];
    for name in [
        "SLACK_SIGNING_SECRET",
        "SLACK_SIGNING_SECRET_PARAM",
        "JANDI_TOKEN",
        "JANDI_TOKEN_PARAM",
    ] {
        assert!(env.get(name).is_some(), "chat env {name}");
    }
    // The chat function never posts to the webhook: it does not get its URL.
    assert!(env.get("WEBHOOK_URL").is_none() && env.get("WEBHOOK_URL_PARAM").is_none());
    assert!(t["Globals"]["Function"]["Environment"]["Variables"]
        .get("WEBHOOK_URL")
        .is_none());
    assert_eq!(
        t["Outputs"]["CommandUrl"]["Value"],
        "ChatFunctionUrl.FunctionUrl"
    );

    for secret in ["WebhookUrl", "SlackSigningSecret", "JandiToken"] {
        assert_eq!(
            template["Parameters"][secret]["NoEcho"], true,
            "{secret} is NoEcho"
        );
    }
}

#[test]
fn the_chat_function_reads_its_allow_lists_from_parameters() {
    // GIVEN the template with both allow-lists set
    let template = load_template();
    let t = Evaluator::new(
        &template,
        &params(&[
            ("ChatWriters", "U0WRITER, mina@example.com"),
            ("ChatAdmins", "U0ADMIN"),
        ]),
    )
    .render();
    // WHEN the chat function's environment is read as the binary does
    let env = t["Resources"]["ChatFunction"]["Properties"]["Environment"]["Variables"].clone();
    let access = offhours::chat::ChatSecrets::from_lookup(|k| env.get(k).map(scalar)).access;
    // THEN it has both lists
    assert_eq!(
        access.writers,
        Some(vec!["U0WRITER".to_string(), "mina@example.com".to_string()])
    );
    assert_eq!(access.admins, ["U0ADMIN"]);
    // AND with the defaults, everyone verified writes and nobody uses `*`
    let t = Evaluator::new(&template, &params(&[])).render();
    let env = t["Resources"]["ChatFunction"]["Properties"]["Environment"]["Variables"].clone();
    let access = offhours::chat::ChatSecrets::from_lookup(|k| env.get(k).map(scalar)).access;
    assert_eq!(access, offhours::chat::ChatAccess::default());
}

#[test]
fn both_functions_come_from_one_arm64_cargo_lambda_build() {
    let template = load_template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"], json!(["arm64"]));
    assert_eq!(globals["Handler"], "bootstrap");
    let functions: Vec<(&String, &Value)> = template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .collect();
    assert_eq!(functions.len(), 2);
    for (id, f) in &functions {
        assert_eq!(
            f["Metadata"],
            json!({"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": "offhours"}}),
            "{id}: identical Metadata lets `sam build` build the crate once"
        );
        for key in ["Runtime", "Architectures", "Handler", "CodeUri"] {
            assert!(
                f["Properties"].get(key).is_none(),
                "{id}: {key} comes from Globals"
            );
        }
    }
}

#[test]
fn functions_get_the_settings_the_binary_reads() {
    // GIVEN the template with non-default parameters
    let template = load_template();
    let overrides = params(&[
        ("Timezone", "Europe/Berlin"),
        ("WarnMinutes", "15"),
        ("MaxWaitSeconds", "90"),
        ("ScheduleTagKey", "Sched"),
        ("GroupTagKey", "SchedGroup"),
        ("SkipUntilTagKey", "KeepUntil"),
        ("Regions", "eu-central-1,eu-west-1"),
        ("WebhookUrl", "https://hooks.slack.com/services/T0/B0/x"),
        ("WebhookFormat", "teams"),
        ("ChatCommand", "/sleep"),
    ]);
    let t = Evaluator::new(&template, &overrides).render();
    let globals = t["Globals"]["Function"]["Environment"]["Variables"].clone();
    for id in ["SchedulerFunction", "ChatFunction"] {
        // WHEN the function's environment (Globals merged with its own) is read as the binary does
        let mut env: Map<String, Value> = globals.as_object().unwrap().clone();
        let own = &t["Resources"][id]["Properties"]["Environment"]["Variables"];
        if let Some(own) = own.as_object() {
            env.extend(own.clone());
        }
        let settings = Settings::from_lookup(|k| env.get(k).map(scalar))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        // THEN it names this stack's tables and carries the parameters
        assert_eq!(settings.schedule_table, format!("{STACK}-Schedule"), "{id}");
        assert_eq!(
            settings.group_table,
            format!("{STACK}-ScheduleServerGroup"),
            "{id}"
        );
        assert_eq!(
            settings.exception_table,
            format!("{STACK}-ScheduleException"),
            "{id}"
        );
        assert_eq!(
            settings.state_table,
            format!("{STACK}-SchedulerState"),
            "{id}"
        );
        assert_eq!(settings.tags.schedule, "Sched", "{id}");
        assert_eq!(settings.tags.group, "SchedGroup", "{id}");
        assert_eq!(settings.tags.skip_until, "KeepUntil", "{id}");
        assert_eq!(
            settings.defaults.timezone,
            chrono_tz::Europe::Berlin,
            "{id}"
        );
        assert_eq!(settings.defaults.warn_minutes, 15, "{id}");
        assert_eq!(settings.max_wait_seconds, 90, "{id}");
        assert_eq!(settings.regions, ["eu-central-1", "eu-west-1"], "{id}");
        // AND the chat settings the notifier reads
        let notify = offhours::notify::NotifySettings::from_lookup(|k| env.get(k).map(scalar))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        // (the webhook URL only reaches the scheduler, which is the only one that posts)
        assert_eq!(
            notify.webhook_url.as_deref(),
            (id == "SchedulerFunction").then_some("https://hooks.slack.com/services/T0/B0/x"),
            "{id}"
        );
        assert_eq!(
            notify.format,
            Some(offhours::notify::WebhookFormat::Teams),
            "{id}"
        );
        assert_eq!(notify.command, "/sleep", "{id}");
    }
    // AND every WebhookFormat the template allows is one the binary accepts
    for allowed in template["Parameters"]["WebhookFormat"]["AllowedValues"]
        .as_array()
        .expect("AllowedValues")
    {
        let value = scalar(allowed);
        offhours::notify::NotifySettings::from_lookup(|k| {
            (k == "WEBHOOK_FORMAT").then(|| value.clone())
        })
        .unwrap_or_else(|e| panic!("WebhookFormat '{value}': {e}"));
    }

    // AND the defaults are the ones the binary would use without any environment
    let t = Evaluator::new(&template, &params(&[])).render();
    let env = t["Globals"]["Function"]["Environment"]["Variables"].clone();
    let from_template = Settings::from_lookup(|k| env.get(k).map(scalar)).unwrap();
    let built_in = Settings::from_lookup(|_| None).unwrap();
    assert_eq!(from_template.defaults.timezone, built_in.defaults.timezone);
    assert_eq!(
        from_template.defaults.warn_minutes,
        built_in.defaults.warn_minutes
    );
    assert_eq!(from_template.max_wait_seconds, built_in.max_wait_seconds);
    assert_eq!(from_template.tags.schedule, built_in.tags.schedule);
    assert_eq!(from_template.tags.group, built_in.tags.group);
    assert_eq!(from_template.tags.skip_until, built_in.tags.skip_until);
    assert!(from_template.regions.is_empty());
}

#[test]
fn outputs_name_the_tables_the_command_url_and_the_functions() {
    let template = load_template();
    let t = Evaluator::new(&template, &params(&[])).render();
    let expected = [
        ("ScheduleTableName", json!(format!("{STACK}-Schedule"))),
        (
            "GroupTableName",
            json!(format!("{STACK}-ScheduleServerGroup")),
        ),
        (
            "ExceptionTableName",
            json!(format!("{STACK}-ScheduleException")),
        ),
        ("StateTableName", json!(format!("{STACK}-SchedulerState"))),
        ("CommandUrl", json!("ChatFunctionUrl.FunctionUrl")),
        ("SchedulerFunctionName", json!("SchedulerFunction")),
        ("ChatFunctionName", json!("ChatFunction")),
        ("TickRuleName", json!("SchedulerFunctionTick")),
    ];
    for (name, value) in expected {
        assert_eq!(t["Outputs"][name]["Value"], value, "output {name}");
    }
}

/// One row of a role table in infra/PERMISSIONS.md: statement id, actions, table names.
fn permission_rows(
    markdown: &str,
    heading: &str,
) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let section = markdown
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("PERMISSIONS.md has no section '## {heading}'"));
    let ticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let tables = [
        "Schedule",
        "ScheduleServerGroup",
        "ScheduleException",
        "SchedulerState",
    ];
    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let sid = ticked(cells[1]).into_iter().next().expect("a statement id");
        let actions = ticked(cells[2])
            .into_iter()
            .filter(|a| a.contains(':'))
            .collect();
        let named = cells[3]
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| tables.contains(w))
            .map(str::to_string)
            .collect();
        rows.insert(sid, (actions, named));
    }
    rows
}

#[test]
fn action_events_go_only_to_the_configured_bus() {
    let template = load_template();
    let own = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/ops-events");
    let other = "arn:aws:events:eu-west-1:210987654321:event-bus/central";
    // (EventBus parameter, EVENT_BUS the scheduler reads, the bus it may publish to)
    let cases = [
        ("", None, None),
        ("ops-events", Some("ops-events"), Some(own.as_str())),
        (other, Some(other), Some(other)),
    ];
    for (parameter, want_env, want_bus) in cases {
        // GIVEN the template with this EventBus WHEN CloudFormation evaluates it
        let t = Evaluator::new(&template, &params(&[("EventBus", parameter)])).render();
        // THEN the scheduler reads it as EVENT_BUS (empty: off)
        let env = &t["Resources"]["SchedulerFunction"]["Properties"]["Environment"]["Variables"];
        let bus = offhours::app::settings::event_bus(|k| env.get(k).map(scalar));
        assert_eq!(bus.as_deref(), want_env, "{parameter}");
        // AND only the scheduler may PutEvents, on exactly that bus
        let by_function = function_statements(&t);
        let buses = |function: &str| -> Vec<String> {
            by_function[function]
                .iter()
                .filter(|s| s.actions.iter().any(|a| a.starts_with("events:")))
                .flat_map(|s| s.resources.clone())
                .collect()
        };
        assert_eq!(
            buses("SchedulerFunction"),
            Vec::from_iter(want_bus.map(String::from)),
            "{parameter}"
        );
        assert!(buses("ChatFunction").is_empty(), "{parameter}");
    }
}

#[test]
fn the_permissions_tables_match_the_rendered_roles() {
    // GIVEN the roles as deployed: rendered by aws-sam-translator (or, without it, as
    // written), every optional parameter set so every optional statement is there
    let template = render_with_samtranslator().unwrap_or_else(load_template);
    let t = Evaluator::new(&template, &params(EVERY_OPTION)).render();
    let by_function = function_statements(&t);
    let markdown =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/PERMISSIONS.md"))
            .expect("infra/PERMISSIONS.md");
    for (function, heading) in [
        ("SchedulerFunction", "Scheduler role"),
        ("ChatFunction", "Chat role"),
    ] {
        // WHEN the role's statements are grouped like the document's table
        let mut rendered: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        for s in &by_function[function] {
            let sid = s.origin.rsplit('/').next().unwrap_or_default().to_string();
            let entry = rendered.entry(sid).or_default();
            entry.0.extend(s.actions.iter().cloned());
            for r in &s.resources {
                if let Some(table) = r.split(&format!(":table/{STACK}-")).nth(1) {
                    entry.1.insert(table.to_string());
                }
            }
        }
        // THEN the document lists the same statements, actions and tables
        assert_eq!(
            permission_rows(&markdown, heading),
            rendered,
            "infra/PERMISSIONS.md '## {heading}' (left) vs the rendered {function} role (right)"
        );
    }
}

#[test]
fn the_failures_alarm_and_the_dashboard_read_the_metrics_the_binary_writes() {
    let template = load_template();
    let t = Evaluator::new(
        &template,
        &params(&[(
            "AlarmTopicArn",
            "arn:aws:sns:ap-northeast-2:123456789012:ops",
        )]),
    )
    .render();
    let res = &t["Resources"];
    let alarm = &res["ActionFailuresAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"], offhours::core::metrics::NAMESPACE);
    assert_eq!(alarm["MetricName"], "Failures");
    assert_eq!(alarm["Statistic"], "Sum");
    assert!(
        alarm.get("Dimensions").is_none(),
        "the per-tick Failures line has no dimension"
    );
    assert_eq!(
        alarm["AlarmActions"],
        json!(["arn:aws:sns:ap-northeast-2:123456789012:ops"])
    );

    // The EMF lines of a tick name the same namespace and metrics.
    let report: offhours::core::plan::Report = serde_json::from_value(json!({
        "at": "2026-11-23T09:05:00+09:00", "steps": [], "notices": [], "errors": [],
        "schedules": [{"schedule": "dev", "event": null, "desired": "start", "transition": null, "reason": "applied", "complete": true}]
    }))
    .expect("report");
    let facts = offhours::core::metrics::TickFacts {
        timestamp_ms: 0,
        duration_ms: 1,
        api_calls: 3,
    };
    let written: BTreeSet<String> = offhours::core::metrics::emf_lines(&report, facts)
        .iter()
        .flat_map(|l| {
            let v: Value = serde_json::from_str(l).expect("EMF");
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .expect("metrics")
                .iter()
                .filter_map(|m| m["Name"].as_str().map(String::from))
                .collect::<Vec<_>>()
        })
        .collect();
    let body =
        template["Resources"]["OffhoursDashboard"]["Properties"]["DashboardBody"].to_string();
    for name in [
        "ResourcesRunning",
        "ResourcesStopped",
        "Actions",
        "Failures",
        "Errors",
        "TickDuration",
        "ApiCalls",
    ] {
        assert!(
            written.contains(name),
            "the binary writes {name}: {written:?}"
        );
        assert!(body.contains(name), "the dashboard shows {name}");
    }
}

// ------------------------------------------------------------------ several accounts

fn load_spoke() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/spoke.yaml");
    let text = std::fs::read_to_string(&path).expect("infra/spoke.yaml");
    let yaml: serde_norway::Value = serde_norway::from_str(&text).expect("spoke.yaml parses");
    yaml_to_json(yaml)
}

/// The statements that touch EC2, RDS, ECS or Auto Scaling, by Sid: actions, resources
/// and conditions (what a role may do to the fleet).
fn cloud_statements(
    statements: &[Statement],
) -> BTreeMap<String, (Vec<String>, Vec<String>, Value)> {
    statements
        .iter()
        .filter(|s| {
            s.actions.iter().any(|a| {
                ["ec2:", "rds:", "ecs:", "autoscaling:"]
                    .iter()
                    .any(|p| a.starts_with(p))
            })
        })
        .map(|s| {
            let sid = s.origin.rsplit('/').next().unwrap_or_default().to_string();
            (
                sid,
                (s.actions.clone(), s.resources.clone(), s.condition.clone()),
            )
        })
        .collect()
}

#[test]
fn the_spoke_role_trusts_only_the_hub_and_grants_what_the_hub_scheduler_holds() {
    let hub = load_template();
    let spoke = load_spoke();
    let hub_role = format!("arn:aws:iam::{ACCOUNT}:role/offhours-SchedulerRole-1ABC");
    for (tag, regions, external) in [
        ("ScheduleName", "", ""),
        ("Sched", "eu-central-1,eu-west-1", "ext-0042"),
    ] {
        // GIVEN both templates evaluated with the same tag key and regions
        let h = Evaluator::new(
            &hub,
            &params(&[
                ("ScheduleTagKey", tag),
                ("Regions", regions),
                ("Accounts", "210987654321"),
            ]),
        )
        .render();
        let s = Evaluator::new(
            &spoke,
            &params(&[
                ("HubRoleArn", &hub_role),
                ("ScheduleTagKey", tag),
                ("Regions", regions),
                ("ExternalId", external),
            ]),
        )
        .render();
        let role = &s["Resources"]["SpokeRole"]["Properties"];
        // THEN only the hub's scheduler role may assume the spoke role (with the external
        // id when one is set), under the name the hub assumes by default
        assert_eq!(role["RoleName"], "offhours-spoke");
        assert_eq!(
            role["RoleName"], h["Parameters"]["SpokeRoleName"]["Default"],
            "the spoke's default name is the hub's default SPOKE_ROLE_NAME"
        );
        let trust = parse_document("SpokeRole/trust", &role["AssumeRolePolicyDocument"]);
        assert_eq!(trust.len(), 1);
        assert_eq!(trust[0].actions, ["sts:AssumeRole"]);
        assert_eq!(trust[0].raw["Principal"], json!({"AWS": hub_role}));
        if external.is_empty() {
            assert!(trust[0].condition.is_null(), "{}", trust[0].condition);
        } else {
            assert_eq!(
                trust[0].condition,
                json!({"StringEquals": {"sts:ExternalId": external}})
            );
        }
        // AND the spoke grants exactly the fleet actions the hub's scheduler holds, with the
        // same resources and conditions (tag key, regions)
        let hub_cloud = cloud_statements(&function_statements(&h)["SchedulerFunction"]);
        let spoke_cloud = cloud_statements(&all_statements(&s));
        assert!(!hub_cloud.is_empty());
        assert_eq!(
            spoke_cloud, hub_cloud,
            "infra/spoke.yaml (left) vs template.yaml (right)"
        );
        // AND the hub's scheduler may assume roles of that name, and nothing else of STS
        let assume: Vec<Statement> = function_statements(&h)["SchedulerFunction"]
            .iter()
            .filter(|st| st.actions.iter().any(|a| a.starts_with("sts:")))
            .cloned()
            .collect();
        assert_eq!(assume.len(), 1);
        assert_eq!(
            assume[0].resources,
            [
                "arn:aws:iam::*:role/offhours-spoke",
                "arn:aws:iam::*:role/*/offhours-spoke"
            ]
        );
    }
    // AND without Accounts the scheduler cannot assume any role
    let h = Evaluator::new(&hub, &params(&[])).render();
    assert!(function_statements(&h)["SchedulerFunction"]
        .iter()
        .all(|st| st.actions.iter().all(|a| !a.starts_with("sts:"))));
}

#[test]
fn only_the_scheduler_reads_the_accounts() {
    let template = load_template();
    let t = Evaluator::new(
        &template,
        &params(&[
            ("Accounts", "self,210987654321"),
            ("SpokeRoleName", "night-shift"),
            ("SpokeExternalId", "ext-0042"),
        ]),
    )
    .render();
    let globals = t["Globals"]["Function"]["Environment"]["Variables"].clone();
    let settings = |id: &str| {
        let mut env: Map<String, Value> = globals.as_object().unwrap().clone();
        if let Some(own) = t["Resources"][id]["Properties"]["Environment"]["Variables"].as_object()
        {
            env.extend(own.clone());
        }
        Settings::from_lookup(|k| env.get(k).map(scalar)).expect("settings")
    };
    let scheduler = settings("SchedulerFunction");
    assert_eq!(
        scheduler.accounts,
        [
            offhours::ports::Account::Own,
            offhours::ports::Account::Role {
                account: "210987654321".into(),
                role: "arn:aws:iam::210987654321:role/night-shift".into(),
            },
        ]
    );
    assert_eq!(scheduler.spoke_external_id.as_deref(), Some("ext-0042"));
    // (the chat function has no way into a spoke account: its status shows its own)
    let chat = settings("ChatFunction");
    assert!(chat.accounts.is_empty());
    assert_eq!(chat.spoke_external_id, None);
}

//! What the function is invoked with: the fixture events, changed as a test needs, and the
//! Lambda context.

use std::time::{Duration, SystemTime};

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

use crate::fixtures::{ACCOUNT, CREATE_SESSION, SCHEDULED};

/// A Lambda context for request `request_id` of the function `gsg` in `region` of the fixtures'
/// account, whose deadline is `time_left` from now.
pub fn context(request_id: &str, region: &str, time_left: Duration) -> Context {
    let mut context = Context::default();
    context.request_id = request_id.to_string();
    context.invoked_function_arn = format!("arn:aws:lambda:{region}:{ACCOUNT}:function:gsg");
    let deadline = SystemTime::now() + time_left;
    context.deadline = deadline
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    context
}

/// The sweep's scheduled event, in `region`.
pub fn scheduled(region: &str) -> Value {
    let mut event: Value = serde_json::from_str(SCHEDULED).expect("the fixture event");
    event["region"] = json!(region);
    event
}

/// The fixture `CreateSession` event (see [`crate::fixtures::CREATE_SESSION`]), changed as asked.
#[derive(Debug, Clone)]
pub struct CreateSession(Value);

impl CreateSession {
    /// The fixture as it is.
    pub fn fixture() -> CreateSession {
        CreateSession(serde_json::from_str(CREATE_SESSION).expect("the fixture event"))
    }

    /// In `region`: the envelope's and the record's.
    pub fn in_region(mut self, region: &str) -> CreateSession {
        self.0["region"] = json!(region);
        self.0["detail"]["awsRegion"] = json!(region);
        self
    }

    /// Made by `who` through an assumed role `role`: the caller's ARN and its issuing role's.
    pub fn by(mut self, role: &str, who: &str) -> CreateSession {
        let identity = &mut self.0["detail"]["userIdentity"];
        identity["arn"] = json!(format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{who}"));
        identity["sessionContext"]["sessionIssuer"]["arn"] =
            json!(format!("arn:aws:iam::{ACCOUNT}:role/{role}"));
        self
    }

    /// Of the session `id`: the one requested and the one created.
    pub fn of_session(mut self, id: &str) -> CreateSession {
        let detail = &mut self.0["detail"];
        detail["requestParameters"]["id"] = json!(id);
        detail["responseElements"]["session"]["id"] = json!(id);
        self
    }

    /// The event itself.
    pub fn payload(self) -> Value {
        self.0
    }

    /// The event with its context, as the handler gets it.
    pub fn with(self, context: Context) -> LambdaEvent<Value> {
        LambdaEvent::new(self.0, context)
    }
}

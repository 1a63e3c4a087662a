//! The simulator's answers, written in the vendor's JSON shapes.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::atomic::Ordering;

use super::{Alibaba, JSON_UTF8};
use crate::sim::Canned;

/// The simulator's answer before it is written out.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) code: String,
    pub(super) message: String,
    /// `Some(false)` for a `Success: false` body; `None` for the error shape.
    pub(super) success: Option<bool>,
    pub(super) retry_after: Option<String>,
}

impl Answer {
    pub(super) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            success: None,
            retry_after: None,
        }
    }

    pub(super) fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::error(StatusCode::BAD_REQUEST, code, message)
    }

    pub(super) fn ok() -> Self {
        Self {
            status: StatusCode::OK,
            code: "200".to_owned(),
            message: "operation success.".to_owned(),
            success: Some(true),
            retry_after: None,
        }
    }
}

impl From<Canned> for Answer {
    /// The vendor's error shape; a 200 is written as `Success: false`.
    fn from(error: Canned) -> Self {
        let status = error.status_code();
        Self {
            status,
            code: error.code,
            message: error.message,
            success: (status == StatusCode::OK).then_some(false),
            retry_after: error.retry_after,
        }
    }
}

impl Alibaba {
    pub(super) fn respond(&self, answer: Answer) -> Response {
        let n = self.answers.fetch_add(1, Ordering::Relaxed) + 1;
        let request_id = format!("{n:08X}-51A1-4D0C-9E5B-{:012X}", n * 7919);
        let region = self.region_id.as_deref().unwrap_or("cn-shanghai");
        let body = match answer.success {
            Some(true) => json!({
                "RequestId": request_id, "Code": 200,
                "Message": answer.message, "Success": true,
            }),
            Some(false) => json!({
                "RequestId": request_id, "Code": answer.code,
                "Message": answer.message, "Success": false,
            }),
            None => json!({
                "RequestId": request_id,
                "HostId": format!("onsmqtt.{region}.aliyuncs.com"),
                "Code": answer.code,
                "Message": answer.message,
                "Recommend": format!(
                    "https://api.aliyun.com/troubleshoot?q={}&product=OnsMqtt&requestId={request_id}",
                    answer.code
                ),
            }),
        };
        let mut response = (
            answer.status,
            [(header::CONTENT_TYPE, JSON_UTF8)],
            body.to_string(),
        )
            .into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert("x-acs-request-id", value);
        }
        let retry_after = answer.retry_after.as_deref();
        if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}

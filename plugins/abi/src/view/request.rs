//! The canonical request: written by the host, read by the plugin.

use super::{optional, read_payload, text};
use crate::model::{Action, Request, Target, TargetField};
use crate::raw::{SeverBytes, SeverRequest, SEVER_TARGET_FIELDS};

/// Host side: a view of a request, valid while `request` is.
pub fn request_view(request: &Request) -> SeverRequest {
    let mut target = [SeverBytes::NONE; SEVER_TARGET_FIELDS];
    for (slot, field) in target.iter_mut().zip(TargetField::ALL) {
        *slot = SeverBytes::from_opt(request.target.get(field));
    }
    SeverRequest {
        size: std::mem::size_of::<SeverRequest>() as u32,
        action: request.action.code(),
        request_id: SeverBytes::from_slice(request.request_id.as_bytes()),
        target,
        reason: SeverBytes::from_opt(request.reason.as_deref()),
    }
}

/// Plugin side: the request a view describes.
///
/// # Safety
/// `raw` must be null or point to a request whose pointers are readable for the call.
pub unsafe fn request_from_view(raw: *const SeverRequest) -> Result<Request, String> {
    if raw.is_null() {
        return Err("no request".into());
    }
    // SAFETY: the request's first field is its size; a non-null request is readable up to
    // it (caller contract).
    let size = unsafe { std::ptr::read_unaligned(raw.cast::<u32>()) };
    // SAFETY: as above.
    let raw: SeverRequest = unsafe { read_payload(raw.cast(), size, "the request") }?;
    let action = Action::try_from(raw.action).map_err(|e| e.to_string())?;
    let mut target = Target::default();
    for (field, value) in TargetField::ALL.into_iter().zip(raw.target) {
        // SAFETY: caller contract.
        *target.slot(field) = unsafe { optional(value, field.as_str()) }?.map(str::to_owned);
    }
    Ok(Request {
        // SAFETY: caller contract.
        request_id: unsafe { text(raw.request_id, "request_id") }?.to_owned(),
        action,
        target,
        // SAFETY: caller contract.
        reason: unsafe { optional(raw.reason, "reason") }?.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request() -> Request {
        Request {
            request_id: "r-1".into(),
            action: Action::Terminate,
            target: Target::default(),
            reason: Some(String::new()),
        }
    }

    #[test]
    fn absent_and_empty_strings_stay_apart() {
        let mut request = request();
        request.target.user_id = Some("alice".into());
        request.target.host_id = Some(String::new());
        let raw = request_view(&request);
        // SAFETY: the view points into `request`, alive here.
        assert_eq!(unsafe { request_from_view(&raw) }.unwrap(), request);
        request.reason = None;
        let raw = request_view(&request);
        // SAFETY: as above.
        assert_eq!(unsafe { request_from_view(&raw) }.unwrap(), request);
    }

    #[test]
    fn an_unknown_action_or_a_short_request_is_refused() {
        let request = request();
        let mut raw = request_view(&request);
        raw.action = 0;
        // SAFETY: the view points into `request`, alive here.
        let error = unsafe { request_from_view(&raw) }.unwrap_err();
        assert_eq!(error, "unknown action code 0");
        let mut raw = request_view(&request);
        raw.size = 8;
        // SAFETY: as above.
        let error = unsafe { request_from_view(&raw) }.unwrap_err();
        assert_eq!(error, "the request payload is 8 bytes, less than its 152");
        // SAFETY: null is refused before anything is read.
        assert_eq!(
            unsafe { request_from_view(std::ptr::null()) }.unwrap_err(),
            "no request"
        );
    }

    #[test]
    fn a_request_of_a_later_minor_version_is_read_up_to_what_is_known() {
        #[repr(C)]
        struct Longer {
            request: SeverRequest,
            added_later: u64,
        }
        let request = request();
        let mut longer = Longer {
            request: request_view(&request),
            added_later: 7,
        };
        longer.request.size = std::mem::size_of::<Longer>() as u32;
        // SAFETY: the view points into `request` and `longer`, alive here.
        let read = unsafe { request_from_view(&longer.request) }.unwrap();
        assert_eq!(read, request);
        assert_eq!(longer.added_later, 7);
    }
}

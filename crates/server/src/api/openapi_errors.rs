//! The error answers of every operation in the OpenAPI document. Any
//! operation may answer with an RFC 9457 problem document
//! (`application/problem+json`, [`Problem`](crate::error::Problem)): 400 for
//! a request it cannot read (a path or query parameter of the wrong type),
//! 401 without a valid token, 403, 404, 408 and 413 from the time and body
//! limits, 422 for refused fields. The handlers' annotations name the ones
//! that matter to their callers; this states the content type of those and
//! adds the rest as the `default` answer, so the document describes what
//! the server really sends (checked by schemathesis in CI).

use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

const PROBLEM: &str = "application/problem+json";

pub fn document(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for op in ops.into_iter().flatten() {
            operation(op);
        }
    }
}

fn operation(op: &mut Operation) {
    for (status, answer) in op.responses.responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(answer)) = (is_error, answer) {
            if let Some(c) = answer.content.shift_remove("application/json") {
                answer.content.insert(PROBLEM.into(), c);
            }
            if answer.content.is_empty() {
                answer.content.insert(PROBLEM.into(), problem());
            }
        }
    }
    op.responses.responses.entry("default".into()).or_insert_with(|| {
        RefOr::T(
            ResponseBuilder::new()
                .description("错误：RFC 9457 问题文档 / An error: an RFC 9457 problem document")
                .content(PROBLEM, problem())
                .build(),
        )
    });
}

fn problem() -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build()
}

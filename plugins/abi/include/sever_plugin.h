/*
 * sever_plugin.h: the C ABI between Sever and its adapter plugins.
 *
 * GENERATED from plugins/abi/src/raw/ by cbindgen (plugins/abi/cbindgen.toml); do not
 * edit. docs/plugin-abi.md describes the call sequence, ownership, threading and
 * versioning rules. A plugin exports one function, sever_plugin_descriptor().
 */

#ifndef SEVER_PLUGIN_H
#define SEVER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The one symbol a plugin exports: a descriptor that lives as long as the library
 * (a static). The type is defined below. */
struct SeverDescriptor;
const struct SeverDescriptor *sever_plugin_descriptor(void);

#ifdef __cplusplus
}
#endif

/*
 The major ABI version: host and plugin must agree exactly. Bumped for any change a
 plugin or host built before it would misread.
 */
#define SEVER_ABI_MAJOR 3

/*
 The minor ABI version: compatible additions (a new step kind, a field appended to a
 payload or to the descriptor). A host loads plugins of any minor of its major.
 */
#define SEVER_ABI_MINOR 1

/*
 `"SEVERPLG"` as a little-endian `u64`: identifies a Sever plugin descriptor.
 */
#define SEVER_MAGIC 5137569589203715411

/*
 A call succeeded: the outputs hold its answer.
 */
#define SEVER_STATUS_OK 0

/*
 A reported error: the error buffer holds a UTF-8 message (or JSON where documented).
 */
#define SEVER_STATUS_ERROR 1

/*
 The plugin caught a panic: the error buffer holds its message. The flow is never used
 again (the host still frees it).
 */
#define SEVER_STATUS_PANIC 2

/*
 [`SeverDescriptor::flags`]: the plugin aborts the process on a panic (Rust's
 `panic = "abort"`). The host refuses such a plugin.
 */
#define SEVER_FLAG_PANIC_ABORTS 1

/*
 [`SeverRequest::action`]: `disconnect`.
 */
#define SEVER_ACTION_DISCONNECT 1

/*
 [`SeverRequest::action`]: `terminate`.
 */
#define SEVER_ACTION_TERMINATE 2

/*
 [`SeverRequest::action`]: `unbind`.
 */
#define SEVER_ACTION_UNBIND 3

/*
 How many target fields a [`SeverRequest`] carries, in this order: `client_id`,
 `connection_id`, `user_id`, `source`, `topic`, `message_type`, `host_id`.
 */
#define SEVER_TARGET_FIELDS 7

/*
 [`SeverStep::kind`]: perform the [`SeverHttpRequest`] in `payload`.
 */
#define SEVER_STEP_HTTP 1

/*
 [`SeverStep::kind`]: the action is complete; `payload` is a [`SeverDone`].
 */
#define SEVER_STEP_DONE 2

/*
 [`SeverStep::kind`]: the action failed; `payload` is a [`SeverFail`].
 */
#define SEVER_STEP_FAIL 3

/*
 [`SeverStep::kind`] (3.1): send the [`SeverRedisCommand`] in `payload` on the backend's
 Redis connection.
 */
#define SEVER_STEP_REDIS 4

/*
 [`SeverStep::kind`] (3.1): run the [`SeverSqlQuery`] in `payload` on the backend's SQL
 connection.
 */
#define SEVER_STEP_SQL 5

/*
 [`SeverStep::kind`] (3.1): publish the [`SeverMqttRequest`] in `payload` on the backend's
 MQTT connection and gather its answers.
 */
#define SEVER_STEP_MQTT 6

/*
 [`SeverStep::kind`] (3.1): send the [`SeverNatsRequest`] in `payload` on the backend's
 NATS connection and gather its replies.
 */
#define SEVER_STEP_NATS 7

/*
 [`SeverInput::kind`]: the answer to an HTTP step; `payload` is a [`SeverHttpResponse`].
 */
#define SEVER_INPUT_HTTP_RESPONSE 1

/*
 [`SeverInput::kind`]: plan the last (idempotent) exchange again; `payload` is a
 [`SeverRetry`].
 */
#define SEVER_INPUT_RETRY 2

/*
 [`SeverInput::kind`] (3.1): the answer to a Redis step; `payload` is a
 [`SeverRedisReply`].
 */
#define SEVER_INPUT_REDIS_REPLY 3

/*
 [`SeverInput::kind`] (3.1): the answer to an SQL step; `payload` is a [`SeverSqlResult`].
 */
#define SEVER_INPUT_SQL_RESULT 4

/*
 [`SeverInput::kind`] (3.1): the answer to an MQTT step; `payload` is a
 [`SeverMqttResult`].
 */
#define SEVER_INPUT_MQTT_RESULT 5

/*
 [`SeverInput::kind`] (3.1): the answer to a NATS step; `payload` is a
 [`SeverNatsReplies`].
 */
#define SEVER_INPUT_NATS_REPLIES 6

/*
 [`SeverRedisReply::kind`]: an integer reply (`:n`), in `integer`.
 */
#define SEVER_REDIS_INTEGER 1

/*
 [`SeverRedisReply::kind`]: a simple string (`+OK`), in `text`.
 */
#define SEVER_REDIS_SIMPLE 2

/*
 [`SeverRedisReply::kind`]: a bulk string, in `text`.
 */
#define SEVER_REDIS_BULK 3

/*
 [`SeverRedisReply::kind`]: the null bulk string or null array.
 */
#define SEVER_REDIS_NIL 4

/*
 [`SeverRedisReply::kind`]: an error reply (`-ERR …`), its whole text in `text`.
 */
#define SEVER_REDIS_ERROR 5

/*
 [`SeverRedisReply::kind`]: an array of strings (or integers, as their decimal text), in
 `items`.
 */
#define SEVER_REDIS_ARRAY 6

/*
 [`SeverSqlValue::kind`]: SQL `NULL`.
 */
#define SEVER_SQL_NULL 1

/*
 [`SeverSqlValue::kind`]: a boolean, in `integer` (0 or 1).
 */
#define SEVER_SQL_BOOL 2

/*
 [`SeverSqlValue::kind`]: a 32-bit integer (`int4`), in `integer`.
 */
#define SEVER_SQL_INT4 3

/*
 [`SeverSqlValue::kind`]: a 64-bit integer (`int8`), in `integer`.
 */
#define SEVER_SQL_INT8 4

/*
 [`SeverSqlValue::kind`]: text, in `text`. In a result, also any other type, as the
 server's text form.
 */
#define SEVER_SQL_TEXT 5

/*
 [`SeverDone::outcome`]: the vendor reports the cut as made.
 */
#define SEVER_OUTCOME_DONE 1

/*
 [`SeverDone::outcome`]: the vendor acknowledged it and completes it asynchronously.
 */
#define SEVER_OUTCOME_ACCEPTED 2

/*
 [`SeverFail::problem`]: the vendor has no such client, connection, user or binding.
 */
#define SEVER_PROBLEM_TARGET_NOT_FOUND 1

/*
 [`SeverFail::problem`]: the target cannot be addressed at this vendor (not a UUID
 where the vendor needs one, a character it cannot carry); nothing was sent.
 */
#define SEVER_PROBLEM_INVALID_TARGET 2

/*
 [`SeverFail::problem`]: the vendor refused Sever's credentials (its 401/403).
 */
#define SEVER_PROBLEM_CREDENTIALS_REFUSED 3

/*
 [`SeverFail::problem`]: the vendor refused the request (another 4xx).
 */
#define SEVER_PROBLEM_REJECTED 4

/*
 [`SeverFail::problem`]: the vendor failed (a 5xx, an error it reports as its own).
 */
#define SEVER_PROBLEM_VENDOR_ERROR 5

/*
 [`SeverFail::problem`]: the vendor's answer cannot be read.
 */
#define SEVER_PROBLEM_UNREADABLE 6

/*
 [`SeverFail::problem`]: the vendor throttles; `retry_after` carries its wait, if any.
 */
#define SEVER_PROBLEM_RATE_LIMITED 7

/*
 [`SeverFail::problem`]: the vendor says it cannot serve now (maintenance, not ready).
 */
#define SEVER_PROBLEM_UNAVAILABLE 8

/*
 [`SeverFail::problem`]: the vendor reports that it timed out.
 */
#define SEVER_PROBLEM_TIMEOUT 9

/*
 Borrowed bytes. A null `ptr` is *absent*; a non-null `ptr` with `len` 0 is the empty
 string. Text is always UTF-8.
 */
typedef struct SeverBytes {
  const uint8_t *ptr;
  size_t len;
} SeverBytes;

/*
 Bytes allocated by the plugin and handed to the host, which gives them back to the
 plugin's `buf_free` unchanged. `cap` is the plugin's own (Rust: the `Vec`'s capacity).
 */
typedef struct SeverBuf {
  uint8_t *ptr;
  size_t len;
  size_t cap;
} SeverBuf;

/*
 The host's clock and randomness for one call. Plugins never read a clock or draw
 random numbers themselves.
 */
typedef struct SeverEnv {
  /*
   Milliseconds since the Unix epoch (UTC).
   */
  uint64_t unix_ms;
  /*
   Fresh random bytes for this call (nonces, correlation ids).
   */
  uint8_t random[32];
} SeverEnv;

/*
 One header name and value.
 */
typedef struct SeverHeader {
  struct SeverBytes name;
  struct SeverBytes value;
} SeverHeader;

/*
 A canonical request, in host memory, borrowed for the call. The host has validated
 every identifier and checked that the target holds one of the field sets the plugin
 declared for the action.
 */
typedef struct SeverRequest {
  /*
   `sizeof(SeverRequest)` as the host knows it.
   */
  uint32_t size;
  /*
   One of the `SEVER_ACTION_*` codes.
   */
  uint32_t action;
  struct SeverBytes request_id;
  /*
   The target's fields in the order of [`SEVER_TARGET_FIELDS`]; absent ones null.
   */
  struct SeverBytes target[SEVER_TARGET_FIELDS];
  /*
   The caller's reason, or null.
   */
  struct SeverBytes reason;
} SeverRequest;

/*
 What a plugin asks of the host next. The host owns this struct (it passes a pointer to
 it as `out_step`); the plugin fills it in with a kind and a pointer to that kind's
 payload in the plugin's own memory, valid until the next call on the same flow.
 */
typedef struct SeverStep {
  /*
   One of the `SEVER_STEP_*` kinds.
   */
  uint32_t kind;
  /*
   The payload's size in bytes, as the plugin knows its type.
   */
  uint32_t size;
  /*
   A [`SeverHttpRequest`], [`SeverDone`] or [`SeverFail`] (per `kind`).
   */
  const void *payload;
} SeverStep;

/*
 What every exchange a step asks for shares, whatever its protocol.
 */
typedef struct SeverExchange {
  /*
   1 when performing the exchange twice has the effect of once: only such exchanges
   are retried (and a retry is planned again by the plugin).
   */
  uint32_t idempotent;
  /*
   Always 0.
   */
  uint32_t reserved;
  /*
   A per-exchange limit in milliseconds tighter than the backend's; 0 for none.
   */
  uint64_t timeout_ms;
  /*
   The single-flight key (concurrent flows of one backend whose steps carry the same
   key share one exchange and its answer), or null.
   */
  struct SeverBytes share;
  /*
   What the exchange is for, in a few words ("token"), or null.
   */
  struct SeverBytes purpose;
  /*
   Literal strings in the exchange that must never be shown.
   */
  const struct SeverBytes *redact;
  size_t redact_len;
} SeverExchange;

/*
 [`SEVER_STEP_HTTP`]: an HTTP request. `Host` and `Content-Length` are set by the host.
 */
typedef struct SeverHttpRequest {
  struct SeverExchange exchange;
  struct SeverBytes method;
  /*
   An absolute `http://` or `https://` URL.
   */
  struct SeverBytes url;
  const struct SeverHeader *headers;
  size_t headers_len;
  /*
   Empty (or null) for none.
   */
  struct SeverBytes body;
} SeverHttpRequest;

/*
 [`SEVER_STEP_DONE`]: the action is complete.
 */
typedef struct SeverDone {
  /*
   [`SEVER_OUTCOME_DONE`] or [`SEVER_OUTCOME_ACCEPTED`].
   */
  uint32_t outcome;
  /*
   Always 0.
   */
  uint32_t reserved;
  /*
   What the vendor said, a JSON object; null for none.
   */
  struct SeverBytes vendor;
} SeverDone;

/*
 [`SEVER_STEP_FAIL`]: the action failed.
 */
typedef struct SeverFail {
  /*
   One of the `SEVER_PROBLEM_*` kinds.
   */
  uint32_t problem;
  /*
   1 when the failure is worth retrying (acted on only for idempotent exchanges).
   */
  uint32_t retryable;
  /*
   The human explanation, with the vendor's own words.
   */
  struct SeverBytes detail;
  /*
   The vendor's `Retry-After` (seconds or an HTTP date), or null.
   */
  struct SeverBytes retry_after;
  /*
   What the vendor said, a JSON object; null for none.
   */
  struct SeverBytes vendor;
} SeverFail;

/*
 Why a flow is resumed, in host memory, borrowed for the call.
 */
typedef struct SeverInput {
  /*
   One of the `SEVER_INPUT_*` kinds.
   */
  uint32_t kind;
  /*
   The payload's size in bytes, as the host knows its type.
   */
  uint32_t size;
  /*
   A [`SeverHttpResponse`] or [`SeverRetry`] (per `kind`).
   */
  const void *payload;
} SeverInput;

/*
 [`SEVER_INPUT_HTTP_RESPONSE`]: the vendor's HTTP answer.
 */
typedef struct SeverHttpResponse {
  /*
   The HTTP status (100–999).
   */
  uint32_t status;
  /*
   Always 0.
   */
  uint32_t reserved;
  /*
   Header names in lowercase ASCII.
   */
  const struct SeverHeader *headers;
  size_t headers_len;
  struct SeverBytes body;
} SeverHttpResponse;

/*
 [`SEVER_INPUT_RETRY`]: plan the last exchange again (fresh nonce, fresh timestamp).
 */
typedef struct SeverRetry {
  /*
   The retry's number, from 1.
   */
  uint32_t attempt;
} SeverRetry;

/*
 Writes the plugin's metadata (JSON, `PluginInfo`) into `out`.
 */
typedef uint32_t (*SeverMetadataFn)(struct SeverBuf *out);

/*
 Creates the instance for one backend from its spec (JSON, `BackendSpec`). On
 [`SEVER_STATUS_ERROR`], `out_error` holds a JSON array of `SettingError`.
 */
typedef uint32_t (*SeverInstanceNewFn)(struct SeverBytes spec, void **out_instance, struct SeverBuf *out_error);

/*
 Frees an instance (after every flow of it was freed).
 */
typedef uint32_t (*SeverInstanceFreeFn)(void *instance);

/*
 Starts a flow for a request: writes the flow and its first step. On any other status
 than [`SEVER_STATUS_OK`] no flow exists and `out_error` holds a UTF-8 message.
 */
typedef uint32_t (*SeverFlowStartFn)(const void *instance, const struct SeverRequest *request, const struct SeverEnv *env, void **out_flow, struct SeverStep *out_step, struct SeverBuf *out_error);

/*
 Resumes a flow with an input: writes the next step. On any other status than
 [`SEVER_STATUS_OK`], `out_error` holds a UTF-8 message and the flow is only freed.
 */
typedef uint32_t (*SeverFlowResumeFn)(const void *instance, void *flow, const struct SeverInput *input, const struct SeverEnv *env, struct SeverStep *out_step, struct SeverBuf *out_error);

/*
 Frees a flow.
 */
typedef uint32_t (*SeverFlowFreeFn)(void *flow);

/*
 Frees a buffer the plugin returned.
 */
typedef void (*SeverBufFreeFn)(struct SeverBuf buf);

/*
 (3.1) Writes how the host connects to an instance's backend (JSON, `ConnectionSpec`)
 into `out`: called once after `instance_new` for a plugin whose transport is not HTTP.
 */
typedef uint32_t (*SeverInstanceConnectionFn)(const void *instance, struct SeverBuf *out);

/*
 What `sever_plugin_descriptor()` returns: static for the life of the library.

 The first three fields are frozen for every ABI version, past and future: a host reads
 them first and refuses the plugin unless `magic` matches and `abi_major` equals its own,
 before reading anything else. Every function pointer of 3.0 must be non-null; an entry
 added later is read only when `size` covers it.
 */
typedef struct SeverDescriptor {
  /*
   Always [`SEVER_MAGIC`]. Frozen.
   */
  uint64_t magic;
  /*
   [`SEVER_ABI_MAJOR`] as the plugin was built. Frozen.
   */
  uint32_t abi_major;
  /*
   `sizeof(SeverDescriptor)` as the plugin was built. Frozen.
   */
  uint32_t size;
  /*
   [`SEVER_ABI_MINOR`] as the plugin was built.
   */
  uint32_t abi_minor;
  /*
   `SEVER_FLAG_*` bits.
   */
  uint32_t flags;
  /*
   The plugin's name, `[a-z0-9][a-z0-9_-]{0,62}` (static).
   */
  struct SeverBytes name;
  /*
   The plugin's version (static).
   */
  struct SeverBytes version;
  /*
   A [`SeverMetadataFn`].
   */
  uint32_t (*metadata)(struct SeverBuf *out);
  /*
   A [`SeverInstanceNewFn`].
   */
  uint32_t (*instance_new)(struct SeverBytes spec, void **out_instance, struct SeverBuf *out_error);
  /*
   A [`SeverInstanceFreeFn`].
   */
  uint32_t (*instance_free)(void *instance);
  /*
   A [`SeverFlowStartFn`].
   */
  uint32_t (*flow_start)(const void *instance, const struct SeverRequest *request, const struct SeverEnv *env, void **out_flow, struct SeverStep *out_step, struct SeverBuf *out_error);
  /*
   A [`SeverFlowResumeFn`].
   */
  uint32_t (*flow_resume)(const void *instance, void *flow, const struct SeverInput *input, const struct SeverEnv *env, struct SeverStep *out_step, struct SeverBuf *out_error);
  /*
   A [`SeverFlowFreeFn`].
   */
  uint32_t (*flow_free)(void *flow);
  /*
   A [`SeverBufFreeFn`].
   */
  void (*buf_free)(struct SeverBuf buf);
  /*
   (3.1) A [`SeverInstanceConnectionFn`]: required for a transport other than HTTP,
   may be null otherwise.
   */
  uint32_t (*instance_connection)(const void *instance, struct SeverBuf *out);
} SeverDescriptor;

/*
 The exported entry point's type: `const SeverDescriptor *sever_plugin_descriptor(void)`.
 */
typedef const struct SeverDescriptor *(*SeverDescriptorFn)(void);

/*
 [`SEVER_STEP_REDIS`]: one command as an array of arguments (RESP2 bulk strings): an
 identifier is always one whole argument, never spliced into another.
 */
typedef struct SeverRedisCommand {
  struct SeverExchange exchange;
  const struct SeverBytes *args;
  size_t args_len;
} SeverRedisCommand;

/*
 [`SEVER_INPUT_REDIS_REPLY`]: what the server answered, exactly.
 */
typedef struct SeverRedisReply {
  /*
   One of the `SEVER_REDIS_*` kinds.
   */
  uint32_t kind;
  /*
   Always 0.
   */
  uint32_t reserved;
  /*
   [`SEVER_REDIS_INTEGER`]: the integer.
   */
  int64_t integer;
  /*
   [`SEVER_REDIS_SIMPLE`], [`SEVER_REDIS_BULK`], [`SEVER_REDIS_ERROR`]: the text (an
   error's whole text: `ERR …`, `NOPERM …`, `WRONGPASS …`).
   */
  struct SeverBytes text;
  /*
   [`SEVER_REDIS_ARRAY`]: the items.
   */
  const struct SeverBytes *items;
  size_t items_len;
} SeverRedisReply;

/*
 A typed SQL value: a query's parameter, or a cell of a result.
 */
typedef struct SeverSqlValue {
  /*
   One of the `SEVER_SQL_*` kinds.
   */
  uint32_t kind;
  /*
   Always 0.
   */
  uint32_t reserved;
  /*
   [`SEVER_SQL_BOOL`], [`SEVER_SQL_INT4`], [`SEVER_SQL_INT8`]: the value.
   */
  int64_t integer;
  /*
   [`SEVER_SQL_TEXT`]: the value.
   */
  struct SeverBytes text;
} SeverSqlValue;

/*
 [`SEVER_STEP_SQL`]: one parameterised statement. Identifiers are parameters
 (`$1`, `$2`…), never spliced into `sql`.
 */
typedef struct SeverSqlQuery {
  struct SeverExchange exchange;
  struct SeverBytes sql;
  const struct SeverSqlValue *params;
  size_t params_len;
} SeverSqlQuery;

/*
 A server message: an error, or a notice (a `WARNING`) that came with a result.
 */
typedef struct SeverSqlMessage {
  /*
   `ERROR`, `FATAL`, `WARNING`, `NOTICE`…
   */
  struct SeverBytes severity;
  /*
   The SQLSTATE (`42501`).
   */
  struct SeverBytes code;
  struct SeverBytes message;
  /*
   The server's detail, or null.
   */
  struct SeverBytes detail;
} SeverSqlMessage;

/*
 [`SEVER_INPUT_SQL_RESULT`]: the rows, or the server's error, and the notices.
 */
typedef struct SeverSqlResult {
  /*
   1 when the statement (or the connection's authentication) failed: `error` holds why,
   and there are no rows.
   */
  uint32_t failed;
  /*
   Always 0.
   */
  uint32_t reserved;
  struct SeverSqlMessage error;
  /*
   Values per row.
   */
  size_t columns;
  /*
   `rows × columns` values, row by row.
   */
  const struct SeverSqlValue *values;
  size_t values_len;
  const struct SeverSqlMessage *notices;
  size_t notices_len;
} SeverSqlResult;

/*
 [`SEVER_STEP_MQTT`]: publish a message and gather the answers that carry one of the
 correlation strings (a control-topic request, such as Mosquitto's dynamic security).
 */
typedef struct SeverMqttRequest {
  struct SeverExchange exchange;
  struct SeverBytes topic;
  /*
   0, 1 or 2.
   */
  uint32_t qos;
  /*
   Always 0.
   */
  uint32_t reserved;
  struct SeverBytes payload;
  /*
   Where the answers are published (subscribed before the first publish).
   */
  struct SeverBytes response_topic;
  /*
   The answer is every message on `response_topic` containing one of these strings;
   the exchange ends when one message for each has arrived (or at the timeout).
   */
  const struct SeverBytes *correlation;
  size_t correlation_len;
} SeverMqttRequest;

/*
 [`SEVER_INPUT_MQTT_RESULT`]: what the broker said.
 */
typedef struct SeverMqttResult {
  /*
   The CONNACK reason code of the connection (0 = accepted; 0x86, 0x87: refused).
   */
  uint32_t connack_reason;
  /*
   The PUBACK reason code of the publish (0 = accepted; 0x87: not authorized).
   */
  uint32_t puback_reason;
  /*
   The matching messages' payloads, in arrival order.
   */
  const struct SeverBytes *messages;
  size_t messages_len;
} SeverMqttResult;

/*
 [`SEVER_STEP_NATS`]: a request on a subject, gathering its replies.
 */
typedef struct SeverNatsRequest {
  struct SeverExchange exchange;
  struct SeverBytes subject;
  struct SeverBytes payload;
  /*
   0: the first reply ends the exchange; otherwise every reply within this many
   milliseconds (a discovery request every server answers).
   */
  uint64_t gather_ms;
} SeverNatsRequest;

/*
 [`SEVER_INPUT_NATS_REPLIES`]: what the servers said.
 */
typedef struct SeverNatsReplies {
  /*
   1 when the server answered that the subject has no responders.
   */
  uint32_t no_responders;
  /*
   Always 0.
   */
  uint32_t reserved;
  /*
   The server's `-ERR` text when it refused the connection or the request, or null.
   */
  struct SeverBytes error;
  /*
   The replies' payloads, in arrival order.
   */
  const struct SeverBytes *replies;
  size_t replies_len;
} SeverNatsReplies;



#endif  /* SEVER_PLUGIN_H */

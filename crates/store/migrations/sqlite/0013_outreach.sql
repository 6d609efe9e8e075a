-- Outreach (SPEC O1–O5): message templates per channel and scenario; the
-- outbox, one row per outgoing message, delivered by the scheduler's
-- `outbox.deliver` jobs; surveys answered through one-time token links;
-- and the public feedback form's per-address throttle.

CREATE TABLE message_templates (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    scenario TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX message_templates_scenario ON message_templates(scenario, channel, id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    -- Sent with the message (Message-ID, Idempotency-Key): a receiver
    -- drops a repeat delivery after a crash between send and mark.
    idempotency_key TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    scenario TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    -- The address (email, phone or webhook target), encrypted (SPEC S2).
    recipient_enc TEXT NOT NULL,
    recipient_masked TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- queued, sending, sent, failed, suppressed
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    -- Not before this instant (quiet hours).
    not_before INTEGER NOT NULL,
    -- The other message of a dual-channel pair (双渠道确认).
    pair_id INTEGER,
    acknowledged_at INTEGER,
    sent_at INTEGER,
    created_by INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX outbox_status ON outbox(status, id);
CREATE INDEX outbox_customer ON outbox(customer_id, id);

CREATE TABLE surveys (
    id INTEGER PRIMARY KEY,
    -- SHA-256 of the link's token; the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    -- What it asks about: ticket or maintenance (with its id), or manual.
    source TEXT NOT NULL,
    source_id INTEGER,
    subject TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    answered_at INTEGER,
    score INTEGER,
    comment TEXT,
    created_at INTEGER NOT NULL,
    -- One survey of a kind per resolved matter (SPEC T2: asked once).
    UNIQUE (source, source_id, kind)
);
CREATE INDEX surveys_customer ON surveys(customer_id, id);
CREATE INDEX surveys_answered ON surveys(answered_at, kind);

CREATE TABLE feedback_throttle (
    addr TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX feedback_throttle_addr ON feedback_throttle(addr, at);

-- Default templates in Chinese: one per scenario for email and SMS.
INSERT INTO message_templates (name, channel, scenario, subject, body, created_at, updated_at) VALUES
    ('预约回访提醒（邮件）', 'email', 'revisit_reminder', '预约回访提醒', '{{ customer_name }}您好：客服专员{{ agent_name }}将于{{ revisit_time }}回访您，如需改期请回复本消息。', 0, 0),
    ('预约回访提醒（短信）', 'sms', 'revisit_reminder', '预约回访提醒', '{{ customer_name }}您好：客服专员{{ agent_name }}将于{{ revisit_time }}回访您，如需改期请回复本消息。', 0, 0),
    ('工单进度通知（邮件）', 'email', 'progress_update', '工单进度通知', '{{ customer_name }}您好：您的工单 {{ ticket_number }}（{{ subject }}）当前状态：{{ status }}。', 0, 0),
    ('工单进度通知（短信）', 'sms', 'progress_update', '工单进度通知', '{{ customer_name }}您好：您的工单 {{ ticket_number }}（{{ subject }}）当前状态：{{ status }}。', 0, 0),
    ('服务满意度调查（邮件）', 'email', 'survey', '服务满意度调查', '{{ customer_name }}您好：关于“{{ subject }}”的服务，请花一分钟为我们评分：{{ survey_link }}', 0, 0),
    ('服务满意度调查（短信）', 'sms', 'survey', '服务满意度调查', '{{ customer_name }}您好：关于“{{ subject }}”的服务，请花一分钟为我们评分：{{ survey_link }}', 0, 0),
    ('重要变更通知（邮件）', 'email', 'important_notice', '重要变更通知', '{{ customer_name }}您好：{{ notice }} 请回复“收到”确认。', 0, 0),
    ('重要变更通知（短信）', 'sms', 'important_notice', '重要变更通知', '{{ customer_name }}您好：{{ notice }} 请回复“收到”确认。', 0, 0),
    ('问候（邮件）', 'email', 'greeting', '问候', '{{ customer_name }}您好，我是您的专属顾问{{ agent_name }}，有任何需要请随时联系我。', 0, 0),
    ('问候（短信）', 'sms', 'greeting', '问候', '{{ customer_name }}您好，我是您的专属顾问{{ agent_name }}，有任何需要请随时联系我。', 0, 0),
    ('节日祝福（邮件）', 'email', 'holiday_greeting', '节日祝福', '{{ customer_name }}：值此{{ festival }}之际，祝您节日快乐、万事顺意！', 0, 0),
    ('节日祝福（短信）', 'sms', 'holiday_greeting', '节日祝福', '{{ customer_name }}：值此{{ festival }}之际，祝您节日快乐、万事顺意！', 0, 0),
    ('专属优惠券（邮件）', 'email', 'coupon', '专属优惠券', '{{ customer_name }}您好：您的专属优惠券 {{ coupon_code }} 已到账，有效期至{{ expires_on }}。', 0, 0),
    ('专属优惠券（短信）', 'sms', 'coupon', '专属优惠券', '{{ customer_name }}您好：您的专属优惠券 {{ coupon_code }} 已到账，有效期至{{ expires_on }}。', 0, 0);

-- The message that tells a customer the outcome of their need (SPEC T1,
-- 需求-响应-反馈): the default templates of the `need_outcome` scenario,
-- for email and SMS, in Chinese like the others (0013).
INSERT INTO message_templates (name, channel, scenario, subject, body, created_at, updated_at) VALUES
    ('需求结果告知（邮件）', 'email', 'need_outcome', '您的需求处理结果', '{{ customer_name }}您好：您提出的需求“{{ subject }}”（工单 {{ ticket_number }}）{{ outcome }}。', 0, 0),
    ('需求结果告知（短信）', 'sms', 'need_outcome', '需求处理结果', '{{ customer_name }}您好：您提出的需求“{{ subject }}”（工单 {{ ticket_number }}）{{ outcome }}。', 0, 0);

-- The message that tells a customer their feedback or suggestion was
-- resolved (SPEC O5, 客户在解决后 2 小时内被告知): the default templates of
-- the `feedback_resolved` scenario, for email and SMS, in Chinese like the
-- others (0013, 0025).
INSERT INTO message_templates (name, channel, scenario, subject, body, created_at, updated_at) VALUES
    ('反馈处理结果告知（邮件）', 'email', 'feedback_resolved', '您的反馈已处理', '{{ customer_name }}您好：您提交的“{{ subject }}”（工单 {{ ticket_number }}）已处理完毕，感谢您的宝贵意见。', 0, 0),
    ('反馈处理结果告知（短信）', 'sms', 'feedback_resolved', '反馈已处理', '{{ customer_name }}您好：您提交的“{{ subject }}”（工单 {{ ticket_number }}）已处理完毕，感谢您的宝贵意见。', 0, 0);

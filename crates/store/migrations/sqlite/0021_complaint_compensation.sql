-- Complaint compensation (SPEC P4): the lines of a solution (JSON: option
-- code, kind, name and amount in fen), and the default catalogue with the
-- approval limit per role (agent ¥200, supervisor ¥2,000, admin none),
-- which administrators edit on the complaint settings page.
ALTER TABLE complaints ADD COLUMN compensation TEXT;

INSERT INTO settings (key, value, updated_at) VALUES ('complaint.compensation',
'{"options":[{"code":"coupon","kind":"coupon","name":"优惠券","active":true},{"code":"refund","kind":"refund","name":"退款","active":true},{"code":"free_service","kind":"free_service","name":"免费上门服务","active":true},{"code":"gift","kind":"gift","name":"礼品","active":true}],"agent_limit_fen":20000,"supervisor_limit_fen":200000,"admin_limit_fen":null}',
0);

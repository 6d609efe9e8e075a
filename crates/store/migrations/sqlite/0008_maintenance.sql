-- Relationship maintenance plans (SPEC M1–M6): the tasks the scenario
-- engine generates, each customer's revisit stream, the maintenance
-- records that close tasks, and the suggested scripts per scenario.

-- One task per customer, scenario and occasion (guanxi_domain::plan::Occasion::key):
-- generating twice creates nothing twice.
CREATE TABLE maintenance_tasks (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    scenario TEXT NOT NULL,
    occasion TEXT NOT NULL,
    -- The occasion as JSON (guanxi_domain::plan::Occasion): why the task
    -- exists, shown in words on pages.
    detail TEXT NOT NULL,
    -- 'call', or 'content' (sent through outreach, issue 8).
    kind TEXT NOT NULL,
    -- 'open' or 'done'.
    status TEXT NOT NULL,
    -- The business date and the instant it is due by.
    due_on TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- Churn recovery: the customer's owner, beside the supervisor who owns it.
    collaborator_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- The customer's tier when the task was made (execution rate per tier).
    tier TEXT NOT NULL,
    -- The customer's preferred channel and contact window when it was made.
    channel TEXT,
    contact_window TEXT,
    -- The contact a birthday greeting is for.
    contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    done_at INTEGER,
    done_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    record_id INTEGER
);
CREATE UNIQUE INDEX maintenance_tasks_key ON maintenance_tasks(customer_id, scenario, occasion);
-- The queues: a user's tasks (owned, collaborating) and everyone's by due
-- time, with the scenario and due date so that their counts per scenario and
-- section are read from the index alone; the status index also serves the
-- execution rate's range of due times (open and done tasks: superseded
-- ones were never due).
CREATE INDEX maintenance_tasks_owner ON maintenance_tasks(owner_id, status, due_at, id, scenario, due_on);
CREATE INDEX maintenance_tasks_collaborator ON maintenance_tasks(collaborator_id, status, due_at, id, scenario, due_on)
    WHERE collaborator_id IS NOT NULL;
CREATE INDEX maintenance_tasks_status ON maintenance_tasks(status, due_at, id, scenario, due_on);
-- Customers with an open task of the revisit stream (no second revisit is added).
CREATE INDEX maintenance_tasks_open_stream ON maintenance_tasks(customer_id)
    WHERE status = 'open' AND scenario IN ('revisit', 'deep_interview', 'complaint_repair', 'churn_recovery');

-- Each customer's revisit stream: the last stream task done (any of
-- revisit, deep interview, complaint repair, churn recovery) and the last
-- deep interview. The next revisit is due a cadence after them.
CREATE TABLE maintenance_streams (
    customer_id INTEGER PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
    last_contact_on TEXT,
    last_deep_on TEXT
);

-- The maintenance record (客户关系维护记录表, SPEC M4). It is also a
-- communication record (communication_id), whose action items are C6's.
CREATE TABLE maintenance_records (
    id INTEGER PRIMARY KEY,
    task_id INTEGER REFERENCES maintenance_tasks(id) ON DELETE SET NULL,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    communication_id INTEGER REFERENCES communications(id) ON DELETE SET NULL,
    scenario TEXT NOT NULL,
    -- JSON: the customer as it stood (code, name, industry, cooperation
    -- length, last cooperation, tags, contact person).
    snapshot TEXT NOT NULL,
    contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    occurred_at INTEGER NOT NULL,
    channel TEXT NOT NULL,
    owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    summary TEXT NOT NULL,
    feedback TEXT,
    needs_explicit TEXT,
    needs_implicit TEXT,
    -- ',usage,needs,questions,' (',' when none).
    checklist TEXT NOT NULL,
    completion TEXT NOT NULL,
    satisfaction INTEGER,
    notes TEXT,
    effect TEXT NOT NULL,
    effect_note TEXT,
    churn_reason TEXT,
    gift TEXT,
    -- The suggested script used (maintenance_scripts.id).
    script_id INTEGER,
    tags_added TEXT,
    tags_removed TEXT,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX maintenance_records_task ON maintenance_records(task_id);
CREATE INDEX maintenance_records_customer ON maintenance_records(customer_id, occurred_at);

-- Suggested scripts per scenario (M5) until the script library (SPEC K2,
-- issue 9) exists; then library_id points at its entry and this table is
-- the scenario's ordered list of library scripts.
CREATE TABLE maintenance_scripts (
    id INTEGER PRIMARY KEY,
    scenario TEXT NOT NULL,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    library_id INTEGER
);
CREATE INDEX maintenance_scripts_scenario ON maintenance_scripts(scenario, position);
INSERT INTO maintenance_scripts (scenario, position, title, body) VALUES
    ('first_follow_up', 1, '欢迎致电', '您好，我是{公司}的专属客服{姓名}。感谢您选择我们！想了解一下首单/开通的体验是否顺利，之后有任何问题都可以直接联系我。'),
    ('first_follow_up', 2, '介绍服务渠道', '这是我的直线电话和企业微信，工作日 9:00–18:00 都能找到我；紧急问题可拨打服务热线。'),
    ('revisit', 1, '开场与使用体验', '您好，我是您的专属客服{姓名}，占用您几分钟做个例行回访：最近使用我们的产品/服务感觉怎么样？'),
    ('revisit', 2, '需求收集', '接下来一段时间，您在业务上有什么新的计划或需求吗？有没有我们可以帮上忙的地方？'),
    ('revisit', 3, '问题解答', '之前使用中遇到的问题都解决了吗？还有什么需要我们跟进的？'),
    ('deep_interview', 1, '业务规划', '想和您深入聊聊贵公司今年的业务重点，以及我们的服务在其中能发挥的作用。'),
    ('deep_interview', 2, '决策与升级', '目前哪些部门在使用？后续如果要扩大使用范围，一般由谁来决策？'),
    ('complaint_repair', 1, '确认问题已解决', '您好，关于您前几天反映的问题，我们已处理完毕，想确认一下现在是否已经完全解决？'),
    ('complaint_repair', 2, '致歉与改进', '给您带来不便非常抱歉，我们已经针对这个问题做了改进：……，您看还有什么建议？'),
    ('churn_recovery', 1, '关切开场', '您好，注意到最近与您的合作少了一些，想了解一下是不是我们哪里做得不够好？'),
    ('churn_recovery', 2, '了解原因', '是服务、价格、需求变化，还是有其他合作方？您说的情况我们都会认真对待。'),
    ('churn_recovery', 3, '挽回方案', '针对您提到的问题，我们可以提供……（专属方案/优惠/服务升级），您看是否合适？'),
    ('renewal', 1, '续约提醒', '您好，您的合同将于{到期日}到期，想提前和您确认一下续约的安排。'),
    ('renewal', 2, '价值回顾', '过去一年我们一起完成了……，新的一年我们还准备了……'),
    ('milestone', 1, '节日/生日祝福', '{称呼}您好，{节日}快到了，祝您和家人节日快乐、万事顺意！我们准备了一份小礼物/优惠券，略表心意。'),
    ('milestone', 2, '合作周年', '感谢您与我们合作{N}周年！这一年有您的支持，我们准备了一份周年礼，期待继续携手。'),
    ('silent_care', 1, '问候近况', '您好，好久没有联系了，最近一切都好吗？想了解一下您现在的情况。'),
    ('silent_care', 2, '停购原因', '最近没有再合作，主要是什么原因呢？是需求变了、价格、服务，还是其他方面？'),
    ('content_push', 1, '个性化内容', '{称呼}您好，根据您关注的领域，为您整理了一份{行业}最新动态/产品资讯，供您参考。');

-- Birthdays are encrypted; a keyed digest of the month and day
-- (PiiCipher::index("birthday", "MM-DD")) finds the contacts whose
-- birthday comes round without decrypting every one. The maintenance job
-- fills it for contacts that lack it; a changed birthday loses it.
ALTER TABLE contacts ADD COLUMN birthday_key TEXT;
CREATE INDEX contacts_birthday_key ON contacts(birthday_key);
CREATE INDEX contacts_birthday_pending ON contacts(id) WHERE birthday_enc IS NOT NULL AND birthday_key IS NULL;
CREATE TRIGGER contacts_birthday_changed AFTER UPDATE OF birthday_enc ON contacts
    WHEN NEW.birthday_enc IS NOT OLD.birthday_enc AND NEW.birthday_key IS OLD.birthday_key
BEGIN
    UPDATE contacts SET birthday_key = NULL WHERE id = NEW.id;
END;


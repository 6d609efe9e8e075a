-- Knowledge base and script library (SPEC K1–K3).
--
-- Articles with their category, tags, owner, review date and every
-- version; a term index (guanxi_domain::knowledge::search: CJK bigrams and
-- ASCII words) with each posting's BM25 impact, read in impact order, and
-- the number of articles per term (the empty term counts all articles).

CREATE TABLE kb_articles (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    category TEXT NOT NULL,
    -- Comma-separated.
    tags TEXT NOT NULL DEFAULT '',
    owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    version INTEGER NOT NULL,
    -- The date by which the owner should review it (YYYY-MM-DD).
    review_on TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX kb_articles_category ON kb_articles(category, id);
CREATE INDEX kb_articles_review ON kb_articles(review_on, id);

CREATE TABLE kb_article_versions (
    article_id INTEGER NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    category TEXT NOT NULL,
    tags TEXT NOT NULL,
    editor_id INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (article_id, version)
);

CREATE TABLE kb_terms (
    term TEXT NOT NULL,
    article_id INTEGER NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    impact INTEGER NOT NULL,
    PRIMARY KEY (term, article_id)
) WITHOUT ROWID;
CREATE INDEX kb_terms_rank ON kb_terms(term, impact DESC, article_id);
CREATE INDEX kb_terms_article ON kb_terms(article_id);

CREATE TABLE kb_term_counts (
    term TEXT PRIMARY KEY,
    n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO kb_term_counts (term, n) VALUES ('', 0);

-- Scripts (话术) per scenario (a maintenance scenario, `ticket` or
-- `complaint`), step and persona; bodies are minijinja templates.
CREATE TABLE scripts (
    id INTEGER PRIMARY KEY,
    scenario TEXT NOT NULL,
    step TEXT NOT NULL,
    persona TEXT NOT NULL,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    active INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX scripts_scenario ON scripts(scenario, position, id);

-- Which script was used by whom on which ticket or maintenance task (K3),
-- and the outcome once known (the maintenance record's effect).
CREATE TABLE script_uses (
    id INTEGER PRIMARY KEY,
    script_id INTEGER NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
    user_id INTEGER,
    ticket_id INTEGER,
    task_id INTEGER,
    used_at INTEGER NOT NULL,
    outcome TEXT
);
CREATE INDEX script_uses_script ON script_uses(script_id, used_at);
CREATE INDEX script_uses_ticket ON script_uses(ticket_id);
CREATE INDEX script_uses_task ON script_uses(task_id);

-- The maintenance scenarios' suggested scripts become library scripts with
-- the same ids (so maintenance_records.script_id keeps its meaning); their
-- placeholders become variables or an ellipsis for the agent to fill.
INSERT INTO scripts (id, scenario, step, persona, position, title, body, active, created_at, updated_at)
SELECT id, scenario,
    CASE WHEN position = 1 THEN 'opening' WHEN position = 2 THEN 'discovery' ELSE 'value' END,
    'general', position * 10, title,
    REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(body,
        '{公司}', '我们公司'), '{姓名}', '{{ agent.name }}'), '{称呼}', '{{ customer.name }}'),
        '{到期日}', '{{ occasion }}'), '{节日}', '{{ occasion }}'), '{N}', '……'), '{行业}', '您所在行业'),
    1, 0, 0
FROM maintenance_scripts;
UPDATE maintenance_scripts SET library_id = id;

-- The default library for tickets and complaints: every step, with plain
-- spoken and professional variants where the wording differs.
INSERT INTO scripts (scenario, step, persona, position, title, body, active, created_at, updated_at) VALUES
    ('ticket', 'opening', 'general', 10, '受理开场', '您好，{{ customer.name }}，我是客服{{ agent.name }}，很高兴为您服务。您反映的问题我已经看到了，工单号是{{ ticket.number }}。', 1, 0, 0),
    ('ticket', 'opening', 'young', 11, '受理开场（轻松）', '哈喽～我是客服{{ agent.name }}，您说的情况我这边已经收到啦，马上帮您看！', 1, 0, 0),
    ('ticket', 'opening', 'enterprise', 12, '受理开场（企业）', '您好，这里是贵司的服务对接人{{ agent.name }}。关于“{{ ticket.subject }}”，我们已登记为工单{{ ticket.number }}，将按服务协议时限处理。', 1, 0, 0),
    ('ticket', 'identity', 'general', 20, '身份核实', '为了保护您的账户安全，麻烦您提供一下注册手机号的后四位，或者下单时使用的联系人姓名，好吗？', 1, 0, 0),
    ('ticket', 'empathy', 'general', 30, '理解与安抚', '遇到这种情况确实挺着急的，换作是我也会担心，您放心，我会一直跟进到问题解决为止。', 1, 0, 0),
    ('ticket', 'discovery', 'general', 40, '开放式提问', '方便具体说一下问题是从什么时候开始出现的吗？出现之前有没有做过什么操作或变更？', 1, 0, 0),
    ('ticket', 'value', 'general', 50, '方案说明', '针对您的情况，我们建议这样处理：……。这样做的好处是不会影响您正在使用的{{ product }}，处理完成后我会第一时间告诉您。', 1, 0, 0),
    ('ticket', 'confirm', 'general', 60, '复述确认', '我跟您确认一下：您的诉求是……，希望在……之前处理好，对吗？', 1, 0, 0),
    ('ticket', 'commitment', 'general', 70, '时限承诺', '这个问题我会在今天下班前给您一个明确的进展，如果需要更多时间，我也会提前告诉您原因。', 1, 0, 0),
    ('ticket', 'closing', 'general', 80, '结束语', '感谢您的耐心，{{ customer.name }}。之后有任何问题，直接回复这个工单{{ ticket.number }}就能找到我，祝您生活愉快！', 1, 0, 0),
    ('complaint', 'opening', 'general', 10, '投诉受理', '您好，我是客服{{ agent.name }}。首先非常抱歉给您带来了不好的体验，您的投诉我们非常重视，工单号{{ ticket.number }}。', 1, 0, 0),
    ('complaint', 'identity', 'general', 20, '核实信息', '为了尽快核实情况，麻烦您确认一下订单号或注册手机号的后四位。', 1, 0, 0),
    ('complaint', 'empathy', 'general', 30, '共情致歉', '您的心情我完全理解，这件事确实是我们做得不到位，给您添麻烦了，真的很抱歉。', 1, 0, 0),
    ('complaint', 'empathy', 'young', 31, '共情致歉（口语）', '太理解您了，遇到这事谁都会生气，是我们没做好，先跟您说声对不起！', 1, 0, 0),
    ('complaint', 'discovery', 'general', 40, '了解诉求', '您希望我们怎么处理会比较满意？除了这次的问题，还有其他让您不满意的地方吗？', 1, 0, 0),
    ('complaint', 'value', 'enterprise', 50, '整改说明（企业）', '我们已启动内部复盘，针对本次问题的根因制定了整改措施，并将在约定时限内向贵司提交书面处理报告。', 1, 0, 0),
    ('complaint', 'confirm', 'general', 60, '复述确认', '我复述一下您的诉求：……，处理方式是……，您看这样理解对吗？', 1, 0, 0),
    ('complaint', 'commitment', 'general', 70, '处理承诺', '我会亲自跟进，24小时内给您回复处理方案，处理完成后还会回访确认您是否满意。', 1, 0, 0),
    ('complaint', 'closing', 'general', 80, '结束与回访预告', '再次向您致歉，也感谢您的反馈让我们变得更好。处理结果出来后我会第一时间联系您，{{ customer.name }}。', 1, 0, 0);

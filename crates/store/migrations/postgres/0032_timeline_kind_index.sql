-- One index on the customer timeline instead of two (issue 6): every
-- ticket, order and note appended a second entry at a random place in
-- (customer, kind, at). The 360 view's kind filter walks the customer's
-- entries newest first on timeline_customer (customer, at, id) and stops at
-- the page's end: a customer's timeline is tens to thousands of entries.
DROP INDEX timeline_customer_kind;

# Integration tests: a real instance on loopback, driven by real clients.
TESTS += tests/integration/test_master.py tests/integration/test_mail_flow.py \
	tests/integration/test_agents.py tests/integration/test_durable.py
EXTRA_DIST += tests/integration/harness.py tests/integration/test_master.py \
	tests/integration/test_mail_flow.py tests/integration/test_agents.py \
	tests/integration/test_durable.py

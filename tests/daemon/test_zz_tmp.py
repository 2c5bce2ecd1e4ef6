import time, signal
def test_t(daemon_process, daemon_env):
    t=time.monotonic(); d=daemon_process(daemon_env()); t1=time.monotonic()
    code=d.stop(); t2=time.monotonic()
    print("start", t1-t, "stop", t2-t1, code); print(d.logs())
    assert 0

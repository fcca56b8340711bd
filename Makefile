# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv and install actline into it on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARCH   := $(shell uname -m)

# torch/torchvision builds that install from this machine's local wheel store
# (no multi-gigabyte CUDA download): see README, "Installing".
ifeq ($(ARCH),aarch64)
TORCH_PINS := torch==2.9.1 torchvision==0.24.1
else
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
endif

.PHONY: demo test browser broker clean

$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install -qq $(TORCH_PINS)
	$(PY) -m pip install -qq -e '.[dev,serve,onnx,mqtt]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/actline demo --out runs/demo

test: $(VENV)/.installed browser broker
	$(PY) -m pytest -q -rs

# Headless Chromium for the HTML report's browser test (Debian packages; without them that test skips).
browser:
	@command -v chromium >/dev/null 2>&1 || ( (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) \
		>/tmp/actline-apt.log 2>&1 || (tail -n 3 /tmp/actline-apt.log; \
		echo "chromium could not be installed (log above): the report's browser test will skip, with its reason in the summary") )

# Mosquitto for the MQTT streaming tests (Debian package; each test starts its own on a free loopback port).
broker:
	@command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || ( (apt-get update -qq && apt-get install -y -qq mosquitto) \
		>/tmp/actline-apt-mosquitto.log 2>&1 || (tail -n 3 /tmp/actline-apt-mosquitto.log; \
		echo "mosquitto could not be installed (log above): the MQTT tests will skip, with their reason in the summary") )


clean:
	rm -rf $(VENV) runs

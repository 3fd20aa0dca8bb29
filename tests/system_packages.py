"""The Debian packages some tests drive for real, named once: README's "System packages" line,
`.ci/run` and the skip messages of the tests that need them all say the same."""

PACKAGES = ("xvfb", "xclip", "x11-xserver-utils", "chromium", "tesseract-ocr")
INSTALL_HINT = f"system packages: sudo apt-get install -y {' '.join(PACKAGES)} (README, Quick start)"

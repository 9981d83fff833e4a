"""``python -m oauth_middleware``: the command line of :mod:`oauth_middleware.cli`.

.. code-block:: text

    python -m oauth_middleware keygen
    python -m oauth_middleware check --url https://app.example.com
    python -m oauth_middleware fake-github --port 8001
"""

from __future__ import annotations

import sys

from oauth_middleware.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m oauth_middleware"))

import sys

from ifmac.cli import main

sys.exit(main())

import sys

from repro.benchmark import main

sys.exit(main())

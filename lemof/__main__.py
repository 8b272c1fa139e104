import sys

from lemof.cli import main

sys.exit(main())

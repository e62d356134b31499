from xornet.cli import main

raise SystemExit(main())

from pypod.cli.main import main

main()

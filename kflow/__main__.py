from kflow.cli.entry import main

main()

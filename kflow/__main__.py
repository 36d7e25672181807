from kflow.cli.app import main

main()

from porttool.cli import main

main()

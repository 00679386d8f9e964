from perception.cli import main

main()

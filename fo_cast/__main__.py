from fo_cast.cli import main

main()

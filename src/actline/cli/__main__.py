from actline.cli import main

main()

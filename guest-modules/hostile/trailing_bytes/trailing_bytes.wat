;; shape.wat encoded byte for byte, with one byte (0x00) added after the
;; global section's only global, inside the section: trailing bytes, which a
;; rewrite reading one global and moving on would silently cut off.
(module binary
    "\00\61\73\6d\01\00\00\00\01\10\02\60\04\7f\7f\7f\7f\01\7f\60\03\7f\7f\7f\01\7f\03\04\03\00\01\01"
    "\05\03\01\00\01\06\07\01\7f\01\41\00\0b\00\07\38\04\06\6d\65\6d\6f\72\79\02\00\0c\63\61\62\69\5f"
    "\72\65\61\6c\6c\6f\63\00\00\0c\6f\70\65\6e\2d\73\65\73\73\69\6f\6e\00\01\0d\63\6c\6f\73\65\2d\73"
    "\65\73\73\69\6f\6e\00\02\0a\18\03\05\00\41\80\08\0b\0b\00\23\00\41\01\6a\24\00\41\00\0b\04\00\41"
    "\00\0b\00\0f\04\6e\61\6d\65\07\08\01\00\05\63\61\6c\6c\73")

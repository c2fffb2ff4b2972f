-- The directory of bank branches (IFSC) joins the code lists a state can load.
ALTER TABLE code_lists DROP CONSTRAINT code_lists_name_check;
ALTER TABLE code_lists ADD CONSTRAINT code_lists_name_check
    CHECK (name IN ('villages', 'schemes', 'ifsc'));

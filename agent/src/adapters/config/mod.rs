//! The configuration's outside things: the files a config names
//! (`files`), the pushed overlay kept on disk (`pushed`) and the config in
//! effect as the API shows it (`in_effect`). The types are `base::config`.
pub mod files;
pub mod in_effect;
pub mod pushed;

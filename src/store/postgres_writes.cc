// The row-level write operations of `PostgresStore` (its `WriteTarget`), run inside the write
// transaction that `RunWrites` opened (holding the counter row lock) with mu_ held. What each
// `Write` means is decided once, for every store, in write_path.cc.
#include "store/postgres_store_impl.h"
#include "store/selectors.h"

namespace skiff::store {

Status PostgresStore::InsertObject(const ObjectKey& key, const std::string& uid, int64_t rv,
                                   int64_t generation, const std::string& data, const Json& obj) {
  const std::string phase = StatusPhase(obj);
  PgParams params;
  params.Add(key.kind).Add(key.ns).Add(key.name).Add(uid).Add(rv).Add(generation).Add(data);
  params.Add(phase);
  SKIFF_ASSIGN_OR_RETURN(PgResult rows, db_->Query(pgsql::kInsertObject, params));
  if (rows.rows() == 0) return AlreadyExists(KeyString(key) + " already exists");
  return OkStatus();
}

Status PostgresStore::UpdateObject(const ObjectKey& key, const std::string& uid, int64_t rv,
                                   int64_t generation, const std::string& data, const Json& obj) {
  const std::string phase = StatusPhase(obj);
  PgParams params;
  params.Add(key.kind).Add(key.ns).Add(key.name).Add(uid).Add(rv).Add(generation).Add(data);
  params.Add(phase);
  return db_->Query(pgsql::kUpdateObject, params).status();
}

Status PostgresStore::InsertEvent(EventType type, const ObjectKey& key, int64_t rv,
                                  const std::string& data) {
  const std::string type_name(EventTypeName(type));
  PgParams params;
  params.Add(rv).Add(type_name).Add(key.kind).Add(key.ns).Add(key.name).Add(data);
  return db_->Query(pgsql::kInsertEvent, params).status();
}

Status PostgresStore::LinkOwners(const std::string& uid, const Json* refs, bool replace) {
  if (replace) {
    SKIFF_RETURN_IF_ERROR(db_->Query(pgsql::kDeleteOwnersOfChild, PgParams().Add(uid)).status());
  }
  if (refs == nullptr) return OkStatus();
  for (const Json& ref : *refs) {
    const std::string& owner = ref["uid"].get_ref<const std::string&>();
    SKIFF_RETURN_IF_ERROR(db_->Query(pgsql::kInsertOwner, PgParams().Add(owner).Add(uid)).status());
  }
  return OkStatus();
}

Result<std::vector<StoredRow>> PostgresStore::Dependents(const std::string& uid) {
  SKIFF_ASSIGN_OR_RETURN(PgResult rows, db_->Query(pgsql::kSelectDependents, PgParams().Add(uid)));
  std::vector<StoredRow> out;
  out.reserve(static_cast<size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) {
    out.push_back(StoredRow{ObjectKey{std::string(rows.Text(i, 0)), std::string(rows.Text(i, 1)),
                                      std::string(rows.Text(i, 2))},
                            std::string(rows.Text(i, 3)), std::string(rows.Text(i, 4))});
  }
  return out;
}

Status PostgresStore::DeleteObject(const std::string& uid) {
  return db_->Query(pgsql::kDeleteObject, PgParams().Add(uid)).status();
}

Status PostgresStore::PutRecord(const std::string& collection, const std::string& owner,
                                const std::string& key, const std::string& data) {
  return db_->Query(pgsql::kPutRecord, PgParams().Add(collection).Add(owner).Add(key).Add(data))
      .status();
}

Status PostgresStore::DeleteRecords(const std::string& collection, const std::string& owner) {
  return db_->Query(pgsql::kDeleteRecords, PgParams().Add(collection).Add(owner)).status();
}

}  // namespace skiff::store

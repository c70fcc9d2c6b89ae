-- The knowledge base behind the worked example (mappings/kb.yaml).
-- MySQL 8 / MariaDB 10.6+, utf8mb4 so Chinese names fit. Load it with:
--   mysql -u root < mappings/kb.sql

CREATE DATABASE IF NOT EXISTS kb CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE kb;

-- Things the knowledge base knows about. `type` says what kind of thing a row is.
CREATE TABLE IF NOT EXISTS `entity` (
  `id`           BIGINT        NOT NULL,
  `type`         VARCHAR(32)   NOT NULL COMMENT 'Person, Organization, Place or Concept',
  `name`         VARCHAR(255)  NOT NULL,
  `description`  TEXT          NULL,
  `born_on`      DATE          NULL COMMENT 'people only',
  `founded_year` INT           NULL COMMENT 'organizations only',
  `meta`         JSON          NULL COMMENT 'free-form facts, e.g. {"wiki": {"zh": "..."}, "tags": [...]}',
  `score`        DECIMAL(10,2) NULL COMMENT 'curation score',
  `deleted`      TINYINT(1)    NOT NULL DEFAULT 0 COMMENT 'soft delete',
  `parent_id`    BIGINT        NULL COMMENT 'part of (a place in a place, a unit in an organization)',
  `updated_at`   DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (`id`),
  KEY `ix_entity_type` (`type`),
  KEY `ix_entity_parent` (`parent_id`),
  CONSTRAINT `fk_entity_parent` FOREIGN KEY (`parent_id`) REFERENCES `entity` (`id`) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Typed, directed facts between two entities.
CREATE TABLE IF NOT EXISTS `relation` (
  `id`        BIGINT       NOT NULL,
  `src_id`    BIGINT       NOT NULL,
  `predicate` VARCHAR(32)  NOT NULL COMMENT 'WORKS_AT, LOCATED_IN, FOUNDED, KNOWS',
  `dst_id`    BIGINT       NOT NULL,
  `weight`    DOUBLE       NULL,
  `since`     DATE         NULL,
  `source`    VARCHAR(255) NULL COMMENT 'where the fact comes from',
  PRIMARY KEY (`id`),
  KEY `ix_relation_src` (`src_id`),
  KEY `ix_relation_dst` (`dst_id`),
  CONSTRAINT `fk_relation_src` FOREIGN KEY (`src_id`) REFERENCES `entity` (`id`) ON DELETE CASCADE,
  CONSTRAINT `fk_relation_dst` FOREIGN KEY (`dst_id`) REFERENCES `entity` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Open-ended attributes (entity-attribute-value): one row per (entity, key).
CREATE TABLE IF NOT EXISTS `attribute` (
  `id`        BIGINT       NOT NULL,
  `entity_id` BIGINT       NOT NULL,
  `k`         VARCHAR(64)  NOT NULL,
  `v`         TEXT         NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_attribute` (`entity_id`, `k`),
  CONSTRAINT `fk_attribute_entity` FOREIGN KEY (`entity_id`) REFERENCES `entity` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Other names of an entity (English names of Chinese entities, abbreviations, ...).
CREATE TABLE IF NOT EXISTS `alias` (
  `entity_id` BIGINT       NOT NULL,
  `alias`     VARCHAR(255) NOT NULL,
  `lang`      VARCHAR(8)   NOT NULL DEFAULT 'en' COMMENT 'BCP 47, e.g. en, zh-CN',
  PRIMARY KEY (`entity_id`, `alias`),
  CONSTRAINT `fk_alias_entity` FOREIGN KEY (`entity_id`) REFERENCES `entity` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
